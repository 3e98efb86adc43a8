//! Erasing a person, for admins: asked in the confirmation dialog, requested with
//! `DELETE /api/admin/projects/{project_id}/persons/{distinct_id}` (202: the erasure is on its
//! way), then followed until the person is gone, which the sink makes so a little later.

use std::rc::Rc;

use contract::query::PersonView;
use sycamore::prelude::*;

use super::who::{canonical_id, display_name};
use crate::analytics::page::Page;
use crate::api::{self, Action};
use crate::confirm::{Ask, Confirm};

/// How often the page asks whether the person is gone yet.
const CHECK_EVERY_MS: u32 = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Erasing {
    Idle,
    Requested,
    Done,
    Failed(String),
}

/// The erase button, and what became of an erasure once asked for.
#[component(inline_props)]
pub(crate) fn EraseAction(person: PersonView) -> View {
    let page = use_context::<Page>();
    let confirm = use_context::<Confirm>();
    let state = create_signal(Erasing::Idle);
    let project = page.view.with_untracked(|v| v.project.clone());
    let name = display_name(&person, &project);
    let distinct_id = canonical_id(&person, &project);
    let ids = person.distinct_ids.len();
    let person_id = person.id.to_string();
    let ask = move |_| {
        let (project, distinct_id, person_id) =
            (project.clone(), distinct_id.clone(), person_id.clone());
        confirm.ask(Ask {
            title: "Erase this person?".to_owned(),
            message: format!(
                "Every event and property of {name} ({ids} distinct id{}) leaves ClickHouse and \
                 the streams, and no replay brings them back. This cannot be undone.",
                if ids == 1 { "" } else { "s" }
            ),
            confirm: "Erase person".to_owned(),
            on_confirm: Rc::new(move || {
                page.tracker
                    .capture("person_erased", serde_json::Map::new());
                erase(page, state, &project, &distinct_id, &person_id);
            }),
        });
    };
    view! {
        div(class="danger-zone") {
            (move || match state.get_clone() {
                Erasing::Idle => view! {
                    button(id="person-erase", r#type="button", class="danger", on:click=ask.clone()) {
                        "Erase this person"
                    }
                },
                Erasing::Requested => view! {
                    p(id="person-erase-status", class="status", role="status") {
                        "Erasure requested: the person's data is being removed…"
                    }
                },
                Erasing::Done => view! {
                    p(id="person-erase-status", class="status", role="status") {
                        "Erased: no event, property or id of this person is left."
                    }
                },
                Erasing::Failed(message) => view! {
                    p(id="person-erase-status", class="form-error", role="alert") { (message) }
                },
            })
        }
    }
}

/// Asks for the erasure, then waits until the person's page answers 404.
fn erase(page: Page, state: Signal<Erasing>, project: &str, distinct_id: &str, person_id: &str) {
    if !cfg!(target_arch = "wasm32") {
        return;
    }
    let erase_path = format!(
        "/api/admin/projects/{}/persons/{}",
        api::encode_component(project),
        api::encode_component(distinct_id)
    );
    let check_path = api::with_query(
        &format!("/api/query/persons/{}", api::encode_component(person_id)),
        &[("project_id", project), ("limit", "1")],
    );
    state.set(Erasing::Requested);
    js_sys::futures::spawn_local(async move {
        let asked = page
            .session
            .authorized(|token| {
                let path = erase_path.clone();
                async move { api::send_without_answer::<()>("DELETE", &path, None, &token).await }
            })
            .await;
        if let Err(err) = asked {
            if state.is_alive() {
                state.set(Erasing::Failed(api::explain(&err, Action::Work)));
            }
            return;
        }
        while state.is_alive() {
            crate::browser::sleep_ms(CHECK_EVERY_MS).await;
            let found = page
                .session
                .authorized(|token| {
                    let path = check_path.clone();
                    async move { api::get::<serde_json::Value>(&path, &token).await }
                })
                .await;
            if matches!(&found, Err(err) if err.status() == Some(404)) && state.is_alive() {
                state.set(Erasing::Done);
                return;
            }
        }
    });
}
