//! The analytics page's toolbar: the project switcher (and the project list it offers) and
//! the date range, as a preset or two dates.

use contract::auth::{ProjectSummaries, ProjectSummary};
use sycamore::prelude::*;

use super::dates::{self, Preset};
use super::load::Load;
use super::page::{Page, target_value, today};
use crate::api::{self, Action};

/// The name the app gives a project it has no name for.
const BUILTIN_NAME: &str = "Event Analytics (this app)";

/// The project list, or only the built-in project when the route is not there.
pub(crate) fn load_projects(page: Page) {
    js_sys::futures::spawn_local(async move {
        let answer = page
            .session
            .authorized(|token| async move {
                api::get::<ProjectSummaries>("/api/auth/projects", &token).await
            })
            .await;
        if !page.projects.is_alive() {
            return;
        }
        let builtin = || ProjectSummary {
            id: contract::BUILTIN_PROJECT_ID,
            name: BUILTIN_NAME.to_owned(),
            timezone: "UTC".to_owned(),
        };
        let mut projects = match answer {
            Ok(list) => list.projects,
            Err(err) => {
                page.projects
                    .set(Load::Failed(api::explain(&err, Action::Work)));
                return;
            }
        };
        if projects.is_empty() {
            projects.push(builtin());
        }
        // A shared link may name a project the list does not hold (yet): keep it selectable.
        let wanted = page.view.with_untracked(|v| v.project.clone());
        if let Ok(id) = wanted.parse::<uuid::Uuid>() {
            if !projects.iter().any(|p| p.id == id) {
                projects.push(ProjectSummary {
                    id,
                    name: format!("Project {}", &wanted[..8]),
                    timezone: String::new(),
                });
            }
        } else if let Some(first) = projects.first() {
            let first = first.id.to_string();
            page.view.update(|v| v.project = first);
        }
        page.projects.set(Load::Ready(projects));
    });
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
    let projects = move || match page.projects.get_clone() {
        Load::Ready(list) => {
            let chosen = view.with(|v| v.project.clone());
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
                let id = target_value(&event);
                view.update(|v| {
                    if v.project != id {
                        v.project = id;
                        v.filters.clear();
                        v.at_from.clear();
                        v.at_to.clear();
                    }
                });
            }) { (projects) }
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
