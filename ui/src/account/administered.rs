//! "Projects you administer": for a user who is an admin of a project without being an
//! instance admin, each such project with the admin panel's own sections: its members (roles,
//! removal, invites), its retention, its imports of past events and its history. The project
//! list a user reads does not say the retention: each card reads its project for it. An
//! instance admin manages every project in the admin panel, which this section links to
//! instead.

use contract::auth::{ProjectRole, ProjectSummary, ProjectView, Role};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use super::projects::MyProjects;
use crate::admin::projects::history::HistorySection;
use crate::admin::projects::imports::ImportsSection;
use crate::admin::projects::members::MembersSection;
use crate::admin::projects::retention::RetentionForm;
use crate::api;
use crate::session::Session;

/// The projects of `all` the user administers, in the order listed.
pub(crate) fn administered(all: &[ProjectSummary]) -> Vec<ProjectSummary> {
    all.iter()
        .filter(|p| p.role == ProjectRole::Admin)
        .cloned()
        .collect()
}

#[component(inline_props)]
pub(crate) fn AdministeredProjects(projects: MyProjects) -> View {
    let session = use_context::<Session>();
    let instance_admin = create_selector(move || {
        session
            .user()
            .is_some_and(|user| user.role.includes(Role::Admin))
    });
    view! {
        (move || if instance_admin.get() {
            view! {
                section(id="administered", class="card", aria-labelledby="administered-title") {
                    h3(id="administered-title") { "Projects" }
                    p {
                        "As an instance admin you manage every project, its write keys, domains "
                        "and members in "
                        a(href="/admin?tab=projects", id="to-admin-projects") { "Admin → Projects and keys" }
                        "."
                    }
                }
            }
        } else {
            view! { ProjectCards(projects=projects) }
        })
    }
}

/// A card per project the user administers, or nothing when they administer none.
#[component(inline_props)]
fn ProjectCards(projects: MyProjects) -> View {
    let mine = create_memo(move || {
        projects
            .list
            .with(|list| administered(list.as_deref().unwrap_or_default()))
    });
    view! {
        section(id="administered", aria-labelledby="administered-title",
            hidden=move || mine.with(Vec::is_empty)) {
            h3(id="administered-title") { "Projects you administer" }
            p(class="hint") {
                "Change your members' roles, remove them, invite someone with a link, set how long "
                "events are kept and read who changed what. Write keys and domains are managed by "
                "an instance admin."
            }
            div(class="projects") {
                Keyed(
                    list=mine,
                    view=|project| view! { AdministeredCard(project=project) },
                    key=|project| project.id,
                )
            }
        }
    }
}

#[component(inline_props)]
fn AdministeredCard(project: ProjectSummary) -> View {
    let title_id = format!("administered-{}-title", project.id);
    let labelled_by = title_id.clone();
    let id_attr = project.id.to_string();
    let name = project.name.clone();
    let timezone = format!("Time zone {}", project.timezone);
    let history_name = project.name.clone();
    // Not in the list the user reads: unknown until the project is read.
    let retention = create_signal(None);
    let session = use_context::<Session>();
    let id = project.id;
    on_mount(move || load_retention(session, id, retention));
    view! {
        article(class="card project administered-project", data-project-id=id_attr,
            aria-labelledby=labelled_by) {
            h4(id=title_id) { (name) }
            p(class="muted") { (timezone) }
            RetentionForm(project=project.id, saved=retention)
            ImportsSection(project=project.id)
            MembersSection(project=project.id, name=project.name)
            HistorySection(project=project.id, name=history_name)
        }
    }
}

/// `GET /api/admin/projects/{id}` for the project's retention; when it cannot be read, the
/// form shows no current value and saving still works.
fn load_retention(session: Session, id: Uuid, retention: Signal<Option<Option<u16>>>) {
    spawn_local(async move {
        let path = format!("/api/admin/projects/{id}");
        let answer = session
            .authorized(|token| {
                let path = path.clone();
                async move { api::get::<ProjectView>(&path, &token).await }
            })
            .await;
        // A save made meanwhile is newer than what was read.
        let unknown = retention.is_alive() && retention.get_untracked().is_none();
        if let (Ok(project), true) = (answer, unknown) {
            retention.set(Some(project.retention_months));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_projects_the_user_is_an_admin_of_are_managed_here() {
        let project = |n, role| ProjectSummary {
            id: Uuid::from_u128(n),
            name: format!("p{n}"),
            timezone: "UTC".to_owned(),
            role,
        };
        let all = [
            project(1, ProjectRole::Viewer),
            project(2, ProjectRole::Admin),
            project(3, ProjectRole::Analyst),
            project(4, ProjectRole::Admin),
        ];
        let names: Vec<_> = administered(&all).into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["p2", "p4"]);
    }
}
