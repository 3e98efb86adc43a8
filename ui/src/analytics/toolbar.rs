//! The analytics page's toolbar: the project switcher (and the project list it offers) and
//! the date range, as a preset or two dates.

use contract::auth::{ProjectRole, ProjectSummaries, ProjectSummary};
use sycamore::prelude::*;
use uuid::Uuid;

use super::dates::{self, Preset};
use super::load::Load;
use super::page::{Page, target_value, today};
use crate::api::{self, Action, ApiError};
use crate::session::Session;

/// The caller's projects (`/api/auth/projects`); the first is chosen when the address names
/// none.
pub(crate) fn load_projects(page: Page) {
    let view = page.view;
    load_project_list(
        page.session,
        page.projects,
        move || view.with_untracked(|v| v.project.clone()),
        move |first| view.update(|v| v.project = first),
    );
}

/// The caller's projects (`/api/auth/projects`) into `projects`, as [`offered`] for the project
/// `wanted` gives (the address's); `choose` gets the first when that names none.
pub(crate) fn load_project_list(
    session: Session,
    projects: Signal<Load<Vec<ProjectSummary>>>,
    wanted: impl FnOnce() -> String + 'static,
    choose: impl FnOnce(String) + 'static,
) {
    js_sys::futures::spawn_local(async move {
        let answer = session
            .authorized(|token| async move {
                api::get::<ProjectSummaries>("/api/auth/projects", &token).await
            })
            .await;
        if !projects.is_alive() {
            return;
        }
        let wanted = wanted();
        let offered = offered(answer.map(|list| list.projects), &wanted);
        if let Load::Ready(list) = &offered {
            if let Some(first) = list.first().filter(|_| wanted.parse::<Uuid>().is_err()) {
                choose(first.id.to_string());
            }
        }
        projects.set(offered);
    });
}

/// Whether the caller's projects `projects` make them an analyst or an admin of `project` (an
/// instance admin is listed as an admin of every project): who saves insights, dashboards and
/// notes.
pub(crate) fn may_write(projects: &Load<Vec<ProjectSummary>>, project: Uuid) -> bool {
    match projects {
        Load::Ready(projects) => projects
            .iter()
            .any(|p| p.id == project && p.role.includes(ProjectRole::Analyst)),
        _ => false,
    }
}

/// What the switcher offers: the projects the caller is a member of (none is a state of its
/// own, which the page explains), and the project `wanted` (the address's) when a shared link
/// names one the list does not hold (yet), so that it stays selectable.
pub(crate) fn offered(
    answer: Result<Vec<ProjectSummary>, ApiError>,
    wanted: &str,
) -> Load<Vec<ProjectSummary>> {
    let mut projects = match answer {
        Ok(projects) => projects,
        Err(err) => return Load::Failed(api::explain(&err, Action::Work)),
    };
    if projects.is_empty() {
        return Load::Ready(projects);
    }
    if let Ok(id) = wanted.parse::<Uuid>() {
        if !projects.iter().any(|p| p.id == id) {
            projects.push(ProjectSummary {
                id,
                name: format!("Project {}", &wanted[..8]),
                timezone: String::new(),
                // The least a member may have; the query service decides what is readable.
                role: ProjectRole::Viewer,
            });
        }
    }
    Load::Ready(projects)
}

/// The project switcher and the date range.
#[component]
pub(crate) fn Toolbar() -> View {
    let page = use_context::<Page>();
    let project_error = move || match page.projects.get_clone() {
        Load::Failed(message) => Some(view! {
            p(class="form-error", role="alert") { "Could not list the projects: " (message) }
        }),
        _ => None,
    };
    view! {
        div(class="toolbar") {
            ProjectSwitcher {}
            RangePreset {}
            RangeDate(end="from", title="From")
            RangeDate(end="to", title="To")
            (project_error)
        }
    }
}

/// The project select; choosing another project drops the filters, which name its data.
#[component]
fn ProjectSwitcher() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    project_select(
        page.projects,
        move || view.with(|v| v.project.clone()),
        move |id| {
            view.update(|v| {
                if v.project != id {
                    v.project = id;
                    v.filters.clear();
                    v.at_from.clear();
                    v.at_to.clear();
                }
            });
        },
    )
}

/// The project select (`#project-switcher`) of `projects`, showing the one `chosen` gives
/// (tracked); `choose` gets the one chosen instead.
pub(crate) fn project_select(
    projects: Signal<Load<Vec<ProjectSummary>>>,
    chosen: impl Fn() -> String + 'static,
    choose: impl Fn(String) + 'static,
) -> View {
    let options = move || match projects.get_clone() {
        Load::Ready(list) => {
            let chosen = chosen();
            list.into_iter()
                .map(|p| {
                    let id = p.id.to_string();
                    let selected = id == chosen;
                    view! { option(value=id, selected=selected) { (p.name) } }
                })
                .collect::<Vec<_>>()
        }
        _ => vec![view! { option(value="") { "Loading projects…" } }],
    };
    view! {
        div(class="control") {
            label(r#for="project-switcher") { "Project" }
            select(id="project-switcher", on:change=move |event: web_sys::Event| {
                choose(target_value(&event));
            }) { (options) }
        }
    }
}

/// The preset select: today counts by the hour, longer ranges by the day.
#[component]
fn RangePreset() -> View {
    let view = use_context::<Page>().view;
    let presets = move || {
        let chosen = view.with(|v| v.preset);
        Preset::ALL
            .into_iter()
            .map(|p| view! { option(value=p.as_str(), selected=p == chosen) { (p.title()) } })
            .collect::<Vec<_>>()
    };
    view! {
        div(class="control") {
            label(r#for="range-preset") { "Dates" }
            select(id="range-preset", on:change=move |event: web_sys::Event| {
                let Some(preset) = Preset::parse(&target_value(&event)) else { return };
                view.update(|v| {
                    v.preset = preset;
                    if let Some((from, to)) = preset.days(&today()) {
                        v.from = from;
                        v.to = to;
                    }
                    if preset == Preset::Today && v.interval == "day" {
                        v.interval = "hour".to_owned();
                    } else if preset != Preset::Today && v.interval == "hour" {
                        v.interval = "day".to_owned();
                    }
                });
            }) { (presets) }
        }
    }
}

/// The date input of one `end` of the range (`from` or `to`); a date typed makes the range
/// custom, and the two ends swap when they cross.
#[component(inline_props)]
fn RangeDate(end: &'static str, title: &'static str) -> View {
    let view = use_context::<Page>().view;
    let set_date = move |event: web_sys::Event| {
        let value = target_value(&event);
        if dates::parse_date(&value).is_none() {
            return;
        }
        view.update(|v| {
            v.preset = Preset::Custom;
            if end == "from" {
                v.from = value;
            } else {
                v.to = value;
            }
            if v.from > v.to {
                std::mem::swap(&mut v.from, &mut v.to);
            }
        });
    };
    let shown = move || {
        view.with(|v| {
            if end == "from" {
                v.from.clone()
            } else {
                v.to.clone()
            }
        })
    };
    let id = format!("range-{end}");
    let label_for = id.clone();
    view! {
        div(class="control") {
            label(r#for=label_for) { (title) }
            input(id=id, r#type="date", prop:value=shown, on:change=set_date)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(n: u128, name: &str) -> ProjectSummary {
        ProjectSummary {
            id: Uuid::from_u128(n),
            name: name.to_owned(),
            timezone: "UTC".to_owned(),
            role: ProjectRole::Analyst,
        }
    }

    #[test]
    fn analysts_and_admins_of_the_project_write_and_viewers_do_not() {
        let (shop, blog) = (Uuid::from_u128(1), Uuid::from_u128(2));
        for (role, writes) in [
            (ProjectRole::Viewer, false),
            (ProjectRole::Analyst, true),
            (ProjectRole::Admin, true),
        ] {
            let mut mine = project(1, "Shop");
            mine.role = role;
            let mut other = project(2, "Blog");
            other.role = ProjectRole::Admin;
            assert_eq!(
                may_write(&Load::Ready(vec![mine, other]), shop),
                writes,
                "{role:?}"
            );
        }
        let mut admin_elsewhere = project(2, "Blog");
        admin_elsewhere.role = ProjectRole::Admin;
        assert!(!may_write(&Load::Ready(vec![admin_elsewhere]), shop));
        assert!(may_write(&Load::Ready(vec![project(2, "Blog")]), blog));
        assert!(!may_write(&Load::Loading, shop));
    }

    #[test]
    fn the_switcher_offers_the_callers_projects_and_a_shared_links_one() {
        assert_eq!(offered(Ok(Vec::new()), ""), Load::Ready(Vec::new()));
        let other = Uuid::from_u128(7).to_string();
        assert_eq!(
            offered(Ok(Vec::new()), &other),
            Load::Ready(Vec::new()),
            "no project is no project, whatever the link names"
        );
        let shop = project(1, "Shop");
        assert_eq!(
            offered(Ok(vec![shop.clone()]), ""),
            Load::Ready(vec![shop.clone()])
        );
        let Load::Ready(list) = offered(Ok(vec![shop.clone()]), &other) else {
            panic!("a list");
        };
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].id.to_string(), other);
        assert_eq!(list[1].role, ProjectRole::Viewer);
        let refused = ApiError::Unreachable("TypeError: Failed to fetch".to_owned());
        assert!(matches!(offered(Err(refused), ""), Load::Failed(_)));
    }
}
