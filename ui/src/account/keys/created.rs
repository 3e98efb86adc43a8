//! The key just created, which auth shows only this once: read-only, with a Copy button, and
//! how to use it.

use contract::auth::CreatedApiKey;
use sycamore::prelude::*;

use super::state::ApiKeys;
use crate::admin::projects::copy::copy_button;
use crate::browser::origin;

#[component(inline_props)]
pub(crate) fn CreatedKey(keys: ApiKeys) -> View {
    view! {
        (move || keys.created.get_clone().map(|created| shown_once(keys, &created)))
    }
}

/// The key with its Copy button, the warning that it is not shown again, an example call and
/// a button putting it away.
fn shown_once(keys: ApiKeys, created: &CreatedApiKey) -> View {
    let key = created.key.clone();
    let copied = key.clone();
    let copy = copy_button(
        "api-key-copy",
        "Copy",
        format!("Copy the API key {}", created.view.name),
        move || copied.clone(),
    );
    let example = format!(
        "curl -H 'Authorization: Bearer {key}' \\\n  '{}/api/query/trends?project_id=<project id>'",
        origin()
    );
    let note = format!(
        "This is the key “{}”. It is shown only now: copy it and keep it somewhere safe.",
        created.view.name
    );
    view! {
        div(id="api-key-created", class="api-key-created", role="status") {
            label(r#for="api-key-value") { "Your new API key" }
            div(class="inline-field") {
                input(id="api-key-value", class="api-key-value", r#type="text", readonly=true,
                    value=key, aria-describedby="api-key-note")
                (copy)
            }
            p(id="api-key-note", class="hint api-key-note") {
                (note) " Send it as " code { "Authorization: Bearer <key>" }
                " on the query API’s " code { "/api/query/*" }
                " calls, for scripts, notebooks and BI tools. It reads only, and only your projects \
                 (or those it is limited to); it changes nothing."
            }
            pre(class="code api-key-example") { code { (example) } }
            button(id="api-key-done", r#type="button", on:click=move |_| keys.created.set(None)) {
                "I have copied it"
            }
        }
    }
}
