//! A project's history as read so far: the newest page and the older ones asked for since, and
//! where the next older page starts.

use contract::auth::{AuditEntry, AuditPage};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use crate::api::{self, Action};
use crate::session::Session;

/// Changes asked for at a time.
const PAGE_SIZE: u32 = 20;

/// The entries of one project's history read so far, newest first, and how the last read went.
#[derive(Debug, Clone, Copy)]
pub(crate) struct History {
    pub(crate) project: Uuid,
    pub(crate) entries: Signal<Option<Vec<AuditEntry>>>,
    /// Where the next older page starts; `None` once the oldest change is shown.
    pub(crate) next_before: Signal<Option<u64>>,
    pub(crate) loading: Signal<bool>,
    pub(crate) error: Signal<Option<String>>,
    /// The first entry of the older page read last, for the focus to move to.
    pub(crate) first_older: Signal<Option<u64>>,
    /// Bumped by each read: an answer to an older one is not shown over a newer one's.
    generation: Signal<u64>,
}

impl History {
    /// Nothing read yet: the history is read when its section is opened.
    pub(crate) fn new(project: Uuid) -> Self {
        Self {
            project,
            entries: create_signal(None),
            next_before: create_signal(None),
            loading: create_signal(false),
            error: create_signal(None),
            first_older: create_signal(None),
            generation: create_signal(0),
        }
    }

    /// `GET …/audit`, from the newest change or before the sequence `before`.
    fn path(self, before: Option<u64>) -> String {
        let before = before.map(|b| b.to_string()).unwrap_or_default();
        api::with_query(
            &format!("/api/admin/projects/{}/audit", self.project),
            &[("before", &before), ("limit", &PAGE_SIZE.to_string())],
        )
    }

    /// The newest page, in place of whatever was read before.
    pub(crate) fn load(self, session: Session) {
        self.read(session, None);
    }

    /// The page before the oldest entry shown, added under it.
    pub(crate) fn load_older(self, session: Session) {
        if let Some(before) = self.next_before.get_untracked() {
            self.read(session, Some(before));
        }
    }

    fn read(self, session: Session, before: Option<u64>) {
        self.loading.set(true);
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        let path = self.path(before);
        spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::get::<AuditPage>(&path, &token).await }
                })
                .await;
            if !self.loading.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.loading.set(false);
            match answer {
                Ok(page) => self.show(page, before.is_some()),
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    fn show(self, page: AuditPage, older: bool) {
        self.error.set(None);
        self.next_before.set(page.next_before);
        let first = page.entries.first().map(|e| e.sequence);
        self.entries.update(|entries| {
            let shown = if older { entries.take() } else { None };
            *entries = Some(merged(shown.unwrap_or_default(), page.entries));
        });
        self.first_older.set(first.filter(|_| older));
    }
}

/// `shown` with the older `page` under it, newest first; an entry shown already (the history
/// grew between two reads) is not shown twice.
pub(crate) fn merged(mut shown: Vec<AuditEntry>, page: Vec<AuditEntry>) -> Vec<AuditEntry> {
    let oldest = shown.last().map_or(u64::MAX, |e| e.sequence);
    shown.extend(page.into_iter().filter(|e| e.sequence < oldest));
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sequence: u64) -> AuditEntry {
        let entry = serde_json::json!({
            "sequence": sequence,
            "at": "2026-11-04T12:00:00Z",
            "actor": "root@example.com",
            "action": "member_set",
            "summary": format!("change {sequence}"),
        });
        serde_json::from_value(entry).expect("an entry")
    }

    #[test]
    fn an_older_page_goes_under_the_shown_one_without_repeating_an_entry() {
        let sequences = |entries: Vec<AuditEntry>| -> Vec<u64> {
            entries.into_iter().map(|e| e.sequence).collect()
        };
        let shown = vec![entry(9), entry(7)];
        assert_eq!(
            sequences(merged(shown, vec![entry(7), entry(4), entry(2)])),
            [9, 7, 4, 2]
        );
        assert_eq!(sequences(merged(Vec::new(), vec![entry(3)])), [3]);
    }
}
