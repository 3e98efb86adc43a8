//! The projects tab: every project with its time zone, Plausible domains and live write keys;
//! creating a project, issuing and revoking keys, its members and their roles, its retention
//! and history, and the set-up snippets for a chosen key.

mod actions;
mod card;
pub(crate) mod copy;
mod create;
pub(crate) mod history;
pub(crate) mod imports;
mod keys;
pub(crate) mod members;
pub(crate) mod retention;
mod snippet_card;
mod snippets;
mod state;

use sycamore::prelude::*;

use self::card::ProjectCard;
use self::create::CreateProject;
use self::members::Directory;
use self::snippet_card::SnippetsCard;
use self::state::Projects;
use crate::session::Session;

#[component]
pub(crate) fn ProjectsPanel() -> View {
    let session = use_context::<Session>();
    let projects = Projects::new();
    let directory = Directory::new();
    on_mount(move || projects.load(session, None));
    let ids = create_memo(move || {
        projects
            .list
            .with(|list| list.iter().flatten().map(|p| p.id).collect::<Vec<_>>())
    });
    let empty = move || {
        !projects.loading.get()
            && projects
                .list
                .with(|list| list.as_ref().is_some_and(Vec::is_empty))
    };
    view! {
        CreateProject(projects=projects)
        (move || (projects.loading.get() && projects.list.with(Option::is_none)).then(|| view! {
            p(id="projects-loading", class="status", role="status") { "Loading projects…" }
        }))
        (move || projects.error.get_clone().map(|message| view! {
            p(id="projects-error", class="form-error", role="alert") {
                (message) " "
                button(r#type="button", class="link-button", on:click=move |_| projects.load(session, None)) {
                    "Try again"
                }
            }
        }))
        (move || empty().then(|| view! {
            p(id="projects-empty", class="status", role="status") { "No projects yet: create one above." }
        }))
        div(id="projects-list", class="projects") {
            Keyed(
                list=ids,
                view=move |id| view! { ProjectCard(id=id, projects=projects, directory=directory) },
                key=|id| *id,
            )
        }
        SnippetsCard(projects=projects)
    }
}
