//! A project's members as last loaded, and the instance's users an admin may add to it.

use contract::auth::{AdminUserView, MemberView, ProjectMembers, UserPage};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use crate::api::{self, Action};
use crate::format::has_next_page;
use crate::session::Session;

/// The most pages of users the add form reads (of 50 each): a bound on the loop should the
/// list keep growing while it is read.
const MAX_USER_PAGES: u32 = 200;

/// The members of one project as last loaded, and how the last load went.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Members {
    pub(crate) project: Uuid,
    pub(crate) list: Signal<Option<Vec<MemberView>>>,
    pub(crate) loading: Signal<bool>,
    pub(crate) error: Signal<Option<String>>,
    /// Bumped by each load: an answer to an older one is not shown over a newer one's.
    generation: Signal<u64>,
}

impl Members {
    /// Nothing loaded yet: the list is read when the section is first opened.
    pub(crate) fn new(project: Uuid) -> Self {
        Self {
            project,
            list: create_signal(None),
            loading: create_signal(false),
            error: create_signal(None),
            generation: create_signal(0),
        }
    }

    /// `/api/admin/projects/{project}/members`, or one member's path under it.
    pub(crate) fn path(self, user: Option<Uuid>) -> String {
        let members = format!("/api/admin/projects/{}/members", self.project);
        match user {
            Some(user) => format!("{members}/{user}"),
            None => members,
        }
    }

    /// `GET …/members`: the list as auth holds it now.
    pub(crate) fn load(self, session: Session) {
        self.loading.set(true);
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        let path = self.path(None);
        spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::get::<ProjectMembers>(&path, &token).await }
                })
                .await;
            if !self.loading.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.loading.set(false);
            match answer {
                Ok(list) => {
                    self.error.set(None);
                    self.list.set(Some(list.members));
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    /// The member as saved: in place of the one with their id, or added in email order.
    pub(crate) fn saved(self, member: MemberView) {
        if self.list.is_alive() {
            self.list
                .update(|list| put_member(list.get_or_insert_with(Vec::new), member));
        }
    }

    /// The user `id` is no longer a member.
    pub(crate) fn removed(self, id: Uuid) {
        if self.list.is_alive() {
            self.list.update(|list| {
                if let Some(list) = list.as_mut() {
                    list.retain(|m| m.user_id != id);
                }
            });
        }
    }
}

/// `member` in place of the one with their id, or added where the email order puts them.
pub(crate) fn put_member(list: &mut Vec<MemberView>, member: MemberView) {
    if let Some(found) = list.iter_mut().find(|m| m.user_id == member.user_id) {
        *found = member;
        return;
    }
    let at = list.partition_point(|m| m.email < member.email);
    list.insert(at, member);
}

/// The users of the instance, for the add forms of every project: read page by page when a
/// members section is opened, so that a user who registered since is offered too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Directory {
    pub(crate) users: Signal<Option<Vec<AdminUserView>>>,
    pub(crate) error: Signal<Option<String>>,
    generation: Signal<u64>,
}

impl Directory {
    pub(crate) fn new() -> Self {
        Self {
            users: create_signal(None),
            error: create_signal(None),
            generation: create_signal(0),
        }
    }

    /// `GET /api/admin/users`, every page of it.
    pub(crate) fn load(self, session: Session) {
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        spawn_local(async move {
            let answer = all_users(session).await;
            if !self.users.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            match answer {
                Ok(users) => {
                    self.error.set(None);
                    self.users.set(Some(users));
                }
                Err(message) => self.error.set(Some(message)),
            }
        });
    }
}

/// Every user of the instance, or why they could not be read.
async fn all_users(session: Session) -> Result<Vec<AdminUserView>, String> {
    let mut users = Vec::new();
    for page in 1..=MAX_USER_PAGES {
        let path = api::with_query("/api/admin/users", &[("page", &page.to_string())]);
        let answer = session
            .authorized(|token| {
                let path = path.clone();
                async move { api::get::<UserPage>(&path, &token).await }
            })
            .await
            .map_err(|err| api::explain(&err, Action::Work))?;
        let more = has_next_page(answer.page, answer.per_page, answer.total);
        let empty = answer.users.is_empty();
        users.extend(answer.users);
        if !more || empty {
            break;
        }
    }
    Ok(users)
}

/// The users of `users` who are not among `members`, by email.
pub(crate) fn candidates(users: &[AdminUserView], members: &[MemberView]) -> Vec<AdminUserView> {
    let mut left: Vec<AdminUserView> = users
        .iter()
        .filter(|u| !members.iter().any(|m| m.user_id == u.id))
        .cloned()
        .collect();
    left.sort_by(|a, b| a.email.cmp(&b.email));
    left
}

#[cfg(test)]
mod tests {
    use contract::auth::{ProjectRole, Role};

    use super::*;

    fn member(n: u128, email: &str, role: ProjectRole) -> MemberView {
        MemberView {
            user_id: Uuid::from_u128(n),
            email: email.to_owned(),
            name: String::new(),
            role,
        }
    }

    fn user(n: u128, email: &str) -> AdminUserView {
        let user = serde_json::json!({
            "id": Uuid::from_u128(n),
            "email": email,
            "name": "",
            "role": Role::User,
            "disabled": false,
            "created_at": "2026-01-01T00:00:00Z",
            "last_login_at": null,
        });
        serde_json::from_value(user).expect("a user view")
    }

    #[test]
    fn a_saved_member_replaces_theirs_or_joins_in_email_order() {
        let mut list = vec![
            member(1, "ada@example.com", ProjectRole::Viewer),
            member(3, "cy@example.com", ProjectRole::Admin),
        ];
        put_member(
            &mut list,
            member(2, "bob@example.com", ProjectRole::Analyst),
        );
        put_member(&mut list, member(1, "ada@example.com", ProjectRole::Admin));
        let shown: Vec<_> = list.iter().map(|m| (m.email.as_str(), m.role)).collect();
        assert_eq!(
            shown,
            [
                ("ada@example.com", ProjectRole::Admin),
                ("bob@example.com", ProjectRole::Analyst),
                ("cy@example.com", ProjectRole::Admin),
            ]
        );
    }

    #[test]
    fn the_add_form_offers_the_users_who_are_not_members_by_email() {
        let users = [
            user(3, "cy@example.com"),
            user(1, "ada@example.com"),
            user(2, "bob@example.com"),
        ];
        let members = [member(2, "bob@example.com", ProjectRole::Viewer)];
        let offered: Vec<_> = candidates(&users, &members)
            .into_iter()
            .map(|u| u.email)
            .collect();
        assert_eq!(offered, ["ada@example.com", "cy@example.com"]);
    }
}
