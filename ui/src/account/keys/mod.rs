//! The account page's API keys: the form creating one, the key just created (shown once) and
//! the table of the user's live keys, each revocable.

mod created;
mod form;
mod state;
mod table;

use sycamore::prelude::*;

use self::created::CreatedKey;
use self::form::CreateKeyForm;
use self::state::ApiKeys;
use self::table::KeysTable;
use super::projects::MyProjects;
use crate::session::Session;

#[component(inline_props)]
pub(crate) fn ApiKeysSection(projects: MyProjects) -> View {
    let session = use_context::<Session>();
    let keys = ApiKeys::new();
    on_mount(move || keys.load(session));
    view! {
        section(id="api-keys-section", class="card", aria-labelledby="api-keys-title") {
            h3(id="api-keys-title") { "API keys" }
            p(class="hint") {
                "A key lets a script, a notebook or a BI tool read the query API ("
                code { "/api/query/*" } ") as you, without your password: read-only, on your "
                "projects or some of them, until it expires or you revoke it."
            }
            CreateKeyForm(keys=keys, projects=projects)
            CreatedKey(keys=keys)
            h4 { "Your keys" }
            KeysTable(keys=keys, projects=projects)
        }
    }
}
