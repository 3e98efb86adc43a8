//! A project card's write keys: each with buttons to copy it, to write the snippets for it and
//! to revoke it.

use contract::auth::{ProjectView, WriteKeyView};
use sycamore::prelude::*;

use super::actions::CardActions;
use super::copy::copy_button;

/// The project's live keys, or a line saying it has none.
#[component(inline_props)]
pub(crate) fn WriteKeys(card: CardActions, project: ReadSignal<Option<ProjectView>>) -> View {
    view! {
        (move || {
            let keys = project.with(|p| p.as_ref().map(|p| p.keys.clone()).unwrap_or_default());
            if keys.is_empty() {
                return view! { p(class="status keys-empty") { "No live write key: issue one to send events." } };
            }
            let items = keys
                .into_iter()
                .map(|key| key_item(card, key))
                .collect::<Vec<_>>();
            view! { ul(class="keys") { (items) } }
        })
    }
}

fn key_item(card: CardActions, key: WriteKeyView) -> View {
    let projects = card.projects;
    let text = key.key.clone();
    let copy = copy_button(
        "copy-key",
        "Copy",
        format!("Copy key {}", key.key),
        move || text.clone(),
    );
    let chosen_text = key.key.clone();
    let is_chosen = move || {
        projects
            .chosen
            .with(|c| c.as_deref() == Some(chosen_text.as_str()))
    };
    let use_text = key.key.clone();
    let key_id_attr = key.id.to_string();
    let key_attr = key.key.clone();
    let key_text = key.key.clone();
    view! {
        li(class="key", data-key-id=key_id_attr, data-key=key_attr) {
            code(class="key-value") { (key_text) }
            span(class="key-actions") {
                (copy)
                button(r#type="button", class="use-key", aria-pressed=move || is_chosen().to_string(),
                    on:click=move |_| {
                        projects.chosen.set(Some(use_text.clone()));
                        crate::a11y::focus_by_id("snippets-title");
                    }) { "Snippets" }
                button(r#type="button", class="revoke-key danger", disabled=card.calls.busy,
                    on:click=move |_| card.revoke(key.clone())) { "Revoke" }
            }
        }
    }
}
