//! The user's live API keys, newest first: name, the key's first characters, the projects it
//! reads, when it was created, expires and was last used, and a Revoke button that asks first.

use std::rc::Rc;

use contract::auth::ApiKeyView;
use sycamore::prelude::*;

use super::super::projects::MyProjects;
use super::state::{ApiKeys, KEYS_PATH, last_used_label, projects_label};
use crate::analytics::annotations::when::{self, instant_label};
use crate::api;
use crate::busy::Busy;
use crate::confirm::{Ask, Confirm};
use crate::session::Session;

#[component(inline_props)]
pub(crate) fn KeysTable(keys: ApiKeys, projects: MyProjects) -> View {
    let rows = create_memo(move || keys.list.get_clone().unwrap_or_default());
    let empty = move || {
        keys.list
            .with(|list| list.as_ref().is_some_and(Vec::is_empty))
    };
    view! {
        (move || (keys.loading.get() && keys.list.with(Option::is_none)).then(|| view! {
            p(class="status", role="status") { "Loading your keys…" }
        }))
        (move || keys.error.get_clone().map(|message| view! {
            p(id="api-keys-error", class="form-error", role="alert") { (message) }
        }))
        (move || empty().then(|| view! {
            p(id="api-keys-empty", class="status") { "You have no API keys." }
        }))
        div(class="table-scroll", hidden=move || rows.with(Vec::is_empty)) {
            table(id="api-keys", class="admin-table api-keys-table") {
                caption(class="visually-hidden") { "Your API keys" }
                thead {
                    tr {
                        th(scope="col") { "Name" }
                        th(scope="col") { "Key" }
                        th(scope="col") { "Projects" }
                        th(scope="col") { "Created" }
                        th(scope="col") { "Expires" }
                        th(scope="col") { "Last used" }
                        th(scope="col") { span(class="visually-hidden") { "Actions" } }
                    }
                }
                tbody {
                    Keyed(
                        list=rows,
                        view=move |key| view! { KeyRow(key=key, keys=keys, projects=projects) },
                        key=|key| key.id,
                    )
                }
            }
        }
    }
}

#[component(inline_props)]
fn KeyRow(key: ApiKeyView, keys: ApiKeys, projects: MyProjects) -> View {
    let calls = Busy::new(use_context::<Session>());
    let confirm = use_context::<Confirm>();
    let Busy { busy, error, .. } = calls;
    let id = key.id;
    let revoke = move || {
        calls.run(
            format!("{KEYS_PATH}/{id}"),
            |path, token| async move {
                api::send_without_answer::<()>("DELETE", &path, None, &token).await
            },
            move |()| keys.revoked(id),
            || {},
        );
    };
    let ask = Ask {
        title: "Revoke this API key?".to_owned(),
        message: format!(
            "Scripts and tools using “{}” ({}…) are refused from their next call. This cannot \
             be undone: create a new key to give them access again.",
            key.name, key.prefix
        ),
        confirm: "Revoke key".to_owned(),
        on_confirm: Rc::new(revoke),
    };
    let shown = key.clone();
    let projects_text = move || {
        projects
            .list
            .with(|mine| projects_label(&shown, mine.as_deref().unwrap_or_default()))
    };
    let now = when::now();
    let created = instant_label(key.created_at.unix_timestamp());
    let expires = key.expires_at.map_or_else(
        || "never".to_owned(),
        |at| instant_label(at.unix_timestamp()),
    );
    let last_used = last_used_label(&key, now);
    let last_used_title = key
        .last_used_at
        .map(|at| instant_label(at.unix_timestamp()))
        .unwrap_or_default();
    let prefix = format!("{}…", key.prefix);
    let revoke_name = format!("Revoke the API key {}", key.name);
    view! {
        tr(class="api-key-row", data-key-id=id.to_string(), data-prefix=key.prefix.clone()) {
            td(class="api-key-name") { (key.name.clone()) }
            td { code(class="api-key-prefix") { (prefix) } }
            td(class="api-key-projects-cell") { (projects_text) }
            td(class="api-key-created-at") { (created) }
            td(class="api-key-expires-at") { (expires) }
            td(class="api-key-last-used", title=last_used_title) { (last_used) }
            td(class="row-actions") {
                button(r#type="button", class="api-key-revoke danger", aria-label=revoke_name,
                    disabled=busy, on:click=move |_| confirm.ask(ask.clone())) { "Revoke" }
                (move || error.get_clone().map(|message| view! {
                    p(class="row-error form-error", role="alert") { (message) }
                }))
            }
        }
    }
}
