//! The user's API keys as last listed, the key just created (auth shows it only once, so it
//! lives only here), the body the create form sends, and how the table writes a key's facts.

use contract::auth::{
    ApiKeyList, ApiKeyView, CreateApiKeyRequest, CreatedApiKey, MAX_API_KEY_NAME_CHARS,
    ProjectSummary,
};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use crate::analytics::annotations::when;
use crate::analytics::dates::{add_days, unix_seconds};
use crate::api::{self, Action};
use crate::format::ago_label;
use crate::session::Session;

/// Where keys are created and listed; one is revoked under it.
pub(crate) const KEYS_PATH: &str = "/api/auth/api-keys";

/// The user's live keys, newest first, and the one created last.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApiKeys {
    pub(crate) list: Signal<Option<Vec<ApiKeyView>>>,
    pub(crate) loading: Signal<bool>,
    pub(crate) error: Signal<Option<String>>,
    pub(crate) created: Signal<Option<CreatedApiKey>>,
    /// Bumped by each load: an answer to an older one is not shown over a newer one's.
    generation: Signal<u64>,
}

impl ApiKeys {
    pub(crate) fn new() -> Self {
        Self {
            list: create_signal(None),
            loading: create_signal(false),
            error: create_signal(None),
            created: create_signal(None),
            generation: create_signal(0),
        }
    }

    /// `GET /api/auth/api-keys`.
    pub(crate) fn load(self, session: Session) {
        self.loading.set(true);
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        spawn_local(async move {
            let answer = session
                .authorized(|token| async move { api::get::<ApiKeyList>(KEYS_PATH, &token).await })
                .await;
            if !self.list.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.loading.set(false);
            match answer {
                Ok(list) => {
                    self.error.set(None);
                    self.list.set(Some(list.api_keys));
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    /// A key just created: it is shown once, and heads the list.
    pub(crate) fn saved(self, created: CreatedApiKey) {
        if !self.list.is_alive() {
            return;
        }
        let view = created.view.clone();
        self.list.update(|list| {
            let list = list.get_or_insert_with(Vec::new);
            list.retain(|k| k.id != view.id);
            list.insert(0, view);
        });
        self.created.set(Some(created));
    }

    /// The key `id` was revoked: it leaves the list, and the page if it is the one shown.
    pub(crate) fn revoked(self, id: Uuid) {
        if !self.list.is_alive() {
            return;
        }
        self.list.update(|list| {
            if let Some(list) = list.as_mut() {
                list.retain(|k| k.id != id);
            }
        });
        if self
            .created
            .with_untracked(|c| c.as_ref().is_some_and(|c| c.view.id == id))
        {
            self.created.set(None);
        }
    }
}

/// The body of `POST /api/auth/api-keys` from the form: the name, the projects ticked (none:
/// every project of the user's) and the last day it works (empty: it never expires), on the
/// browser's clock; or the sentence saying what is wrong. `now` is in seconds since the epoch.
pub(crate) fn request(
    name: &str,
    projects: &[Uuid],
    last_day: &str,
    now: i64,
) -> Result<CreateApiKeyRequest, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Name the key, say after the script or tool that will use it".to_owned());
    }
    if name.chars().count() > MAX_API_KEY_NAME_CHARS {
        return Err(format!(
            "A key's name has {MAX_API_KEY_NAME_CHARS} characters at most"
        ));
    }
    let expires_at = match last_day.trim() {
        "" => None,
        day => {
            // It works through the whole day chosen: until the next one starts.
            let invalid = || "Choose the last day the key works, or none".to_owned();
            let next = add_days(day, 1).ok_or_else(invalid)?;
            let at = when::from_input(&format!("{next}T00:00")).ok_or_else(invalid)?;
            let ends = unix_seconds(&at).ok_or_else(invalid)?;
            if ends <= now {
                return Err("The last day the key works cannot be in the past".to_owned());
            }
            Some(at)
        }
    };
    let body = serde_json::json!({
        "name": name,
        "project_ids": (!projects.is_empty()).then_some(projects),
        "expires_at": expires_at,
    });
    serde_json::from_value(body).map_err(|err| format!("The key cannot be asked for: {err}"))
}

/// The projects a key reads: "All my projects", or the names of those it lists (a project the
/// user no longer belongs to by its id's start).
pub(crate) fn projects_label(key: &ApiKeyView, mine: &[ProjectSummary]) -> String {
    let Some(ids) = &key.project_ids else {
        return "All my projects".to_owned();
    };
    ids.iter()
        .map(|id| {
            mine.iter().find(|p| p.id == *id).map_or_else(
                || format!("project {}…", &id.to_string()[..8]),
                |p| p.name.clone(),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// When a key was last used: "never", or how long ago.
pub(crate) fn last_used_label(key: &ApiKeyView, now: i64) -> String {
    key.last_used_at.map_or_else(
        || "never".to_owned(),
        |at| ago_label(now - at.unix_timestamp()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-01T12:00:00Z, the browser's clock being UTC outside a browser.
    const NOW: i64 = 1_767_268_800;

    fn key(project_ids: Option<Vec<Uuid>>, last_used: Option<&str>) -> ApiKeyView {
        let key = serde_json::json!({
            "id": Uuid::from_u128(7),
            "name": "Metabase",
            "prefix": "eak_abcdefgh",
            "project_ids": project_ids,
            "created_at": "2026-01-01T10:00:00Z",
            "expires_at": null,
            "last_used_at": last_used,
        });
        serde_json::from_value(key).expect("a key view")
    }

    #[test]
    fn a_request_has_a_name_the_projects_ticked_and_the_end_of_the_last_day() {
        let shop = Uuid::from_u128(1);
        let limited = request("  Metabase ", &[shop], "2026-03-31", NOW).expect("a request");
        assert_eq!(limited.name, "Metabase");
        assert_eq!(limited.project_ids, Some(vec![shop]));
        let expires = limited.expires_at.expect("an expiry");
        assert_eq!(
            expires.unix_timestamp(),
            1_775_001_600,
            "2026-04-01T00:00:00Z"
        );

        let open = request("nightly", &[], "", NOW).expect("a request");
        assert_eq!(open.project_ids, None, "none ticked: every project");
        assert_eq!(open.expires_at, None);
    }

    #[test]
    fn a_request_without_a_name_or_with_a_past_day_is_refused_with_a_sentence() {
        assert!(
            request(" ", &[], "", NOW)
                .expect_err("no name")
                .starts_with("Name the key")
        );
        let long = "k".repeat(MAX_API_KEY_NAME_CHARS + 1);
        assert!(request(&long, &[], "", NOW).is_err());
        assert_eq!(
            request("k", &[], "2025-12-31", NOW).expect_err("past"),
            "The last day the key works cannot be in the past"
        );
        assert!(request("k", &[], "2026-01-01", NOW).is_ok(), "today works");
        assert!(request("k", &[], "someday", NOW).is_err());
    }

    #[test]
    fn a_key_names_its_projects_or_all_and_says_when_it_was_used() {
        let shop = ProjectSummary {
            id: Uuid::from_u128(1),
            name: "Shop".to_owned(),
            timezone: "UTC".to_owned(),
            role: contract::auth::ProjectRole::Viewer,
        };
        let mine = [shop];
        assert_eq!(projects_label(&key(None, None), &mine), "All my projects");
        let gone = Uuid::parse_str("0190b6a2-0000-7000-8000-000000000009").expect("a uuid");
        assert_eq!(
            projects_label(&key(Some(vec![Uuid::from_u128(1), gone]), None), &mine),
            "Shop, project 0190b6a2…"
        );
        assert_eq!(last_used_label(&key(None, None), NOW), "never");
        assert_eq!(
            last_used_label(&key(None, Some("2026-01-01T11:55:00Z")), NOW),
            "5 min ago"
        );
    }
}
