//! A project's pending invites as last loaded, and the link of the one just created.

use contract::auth::{CreatedInvite, InviteList, InviteView};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use crate::api::{self, Action};
use crate::format::date_label;
use crate::session::Session;

/// The pending invites of one project, how the last load went, and the link of the invite
/// created last (auth shows its token only once, so it lives only here).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invites {
    pub(crate) project: Uuid,
    pub(crate) list: Signal<Option<Vec<InviteView>>>,
    pub(crate) error: Signal<Option<String>>,
    pub(crate) created: Signal<Option<CreatedInvite>>,
    /// Bumped by each load: an answer to an older one is not shown over a newer one's.
    generation: Signal<u64>,
}

impl Invites {
    /// Nothing loaded yet: the list is read when the members section is opened.
    pub(crate) fn new(project: Uuid) -> Self {
        Self {
            project,
            list: create_signal(None),
            error: create_signal(None),
            created: create_signal(None),
            generation: create_signal(0),
        }
    }

    /// `/api/admin/projects/{project}/invites`, or one invite's path under it.
    pub(crate) fn path(self, invite: Option<Uuid>) -> String {
        let invites = format!("/api/admin/projects/{}/invites", self.project);
        match invite {
            Some(invite) => format!("{invites}/{invite}"),
            None => invites,
        }
    }

    /// `GET …/invites`: the pending invites as auth holds them now.
    pub(crate) fn load(self, session: Session) {
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        let path = self.path(None);
        spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::get::<InviteList>(&path, &token).await }
                })
                .await;
            if !self.list.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            match answer {
                Ok(list) => {
                    self.error.set(None);
                    self.list.set(Some(list.invites));
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    /// An invite just created: its link shows, and it heads the list (newest first).
    pub(crate) fn saved(self, created: CreatedInvite) {
        if !self.list.is_alive() {
            return;
        }
        let invite = created.invite.clone();
        self.list.update(|list| {
            let list = list.get_or_insert_with(Vec::new);
            list.retain(|i| i.id != invite.id);
            list.insert(0, invite);
        });
        self.created.set(Some(created));
    }

    /// The invite `id` was revoked: it leaves the list, and its link if it is the one shown.
    pub(crate) fn revoked(self, id: Uuid) {
        if !self.list.is_alive() {
            return;
        }
        self.list.update(|list| {
            if let Some(list) = list.as_mut() {
                list.retain(|i| i.id != id);
            }
        });
        if self
            .created
            .with_untracked(|c| c.as_ref().is_some_and(|c| c.invite.id == id))
        {
            self.created.set(None);
        }
    }
}

/// When an invite expires, to the minute, as auth wrote it (in UTC, which it names).
pub(crate) fn expiry_label(invite: &InviteView) -> String {
    let at = invite.expires_at;
    let zone = if at.offset().is_utc() { " UTC" } else { "" };
    format!(
        "{} {:02}:{:02}{zone}",
        date_label(at.year(), u8::from(at.month()), at.day()),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_reads_as_a_date_and_time_in_utc() {
        let invite = serde_json::json!({
            "id": Uuid::from_u128(1),
            "project_id": Uuid::from_u128(2),
            "email": "carol@example.com",
            "role": "viewer",
            "created_at": "2026-11-23T00:53:20Z",
            "expires_at": "2026-11-30T00:53:20Z",
            "created_by": "root@example.com",
        });
        let invite: InviteView = serde_json::from_value(invite).expect("an invite");
        assert_eq!(expiry_label(&invite), "2026-11-30 00:53 UTC");
    }
}
