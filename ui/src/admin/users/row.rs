//! A row of the users table: the user, their role (a select), whether they are disabled, when
//! they joined and last signed in, and the buttons to disable or delete them or make them a
//! password reset link.

use std::future::Future;
use std::rc::Rc;

use contract::auth::{AdminUserView, Role, UpdateUserRequest};
use sycamore::prelude::*;
use uuid::Uuid;

use super::reset::ask_reset;
use super::state::Users;
use crate::api::{self, ApiError};
use crate::busy::Busy;
use crate::confirm::{Ask, Confirm};
use crate::format::{ago_label, date_label};
use crate::pages::role_label;
use crate::session::Session;

/// The roles an admin can give: what a user may do in a project is their membership's role
/// (the projects tab), so `analyst` is no longer offered.
const ROLES: [Role; 2] = [Role::User, Role::Admin];

/// One row's user as the list holds it now, and the row's calls.
#[derive(Clone, Copy)]
struct Row {
    id: Uuid,
    users: Users,
    current: ReadSignal<Option<AdminUserView>>,
    role: ReadSignal<Role>,
    disabled: ReadSignal<bool>,
    calls: Busy,
    /// The role select, set back to the stored role after a refused change.
    select: NodeRef,
}

impl Row {
    /// The select shows the role as stored: after a change, and after a refused one.
    fn show_role(self) {
        if let Some(node) = self.select.try_get() {
            let _ = js_sys::Reflect::set(
                &node,
                &"value".into(),
                &self.role.get_untracked().as_str().into(),
            );
        }
    }

    /// Runs `call` with this user's path: `done` takes its answer; after a failure the select
    /// goes back to the stored role.
    fn run<T: 'static, Fut>(
        self,
        call: impl Fn(String, String) -> Fut + 'static,
        done: impl FnOnce(T) + 'static,
    ) where
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let path = format!("/api/admin/users/{}", self.id);
        self.calls.run(path, call, done, move || self.show_role());
    }

    /// `PATCH /api/admin/users/{id}`: the list takes the user as saved.
    fn update(self, request: UpdateUserRequest) {
        let users = self.users;
        self.run(
            move |path, token| {
                let request = request.clone();
                async move { api::send::<_, AdminUserView>("PATCH", &path, &request, &token).await }
            },
            move |user| users.replace(user),
        );
    }

    /// A role chosen in the select: saved when it changed.
    fn choose_role(self, event: &web_sys::Event) {
        let chosen = event
            .target()
            .and_then(|target| js_sys::Reflect::get(&target, &"value".into()).ok())
            .and_then(|value| value.as_string())
            .and_then(|value| value.parse::<Role>().ok());
        match chosen {
            Some(chosen) if chosen != self.role.get_untracked() => self.update(UpdateUserRequest {
                role: Some(chosen),
                disabled: None,
            }),
            _ => self.show_role(),
        }
    }

    fn toggle_disabled(self) {
        self.update(UpdateUserRequest {
            role: None,
            disabled: Some(!self.disabled.get_untracked()),
        });
    }

    /// Asks before deleting the user `email`.
    fn ask_delete(self, confirm: Confirm, email: String) {
        confirm.ask(Ask {
            title: "Delete this user?".to_owned(),
            message: format!(
                "{email} will be signed out and their account and personal data erased. \
                 This cannot be undone."
            ),
            confirm: "Delete user".to_owned(),
            on_confirm: Rc::new(move || self.erase()),
        });
    }

    /// `DELETE /api/admin/users/{id}`; on success the user leaves the list.
    fn erase(self) {
        let Row { id, users, .. } = self;
        self.run(
            |path, token| async move {
                api::send_without_answer::<()>("DELETE", &path, None, &token).await
            },
            move |()| users.remove(id),
        );
    }
}

/// One row. It reads its user from the list by id, so a change re-renders its cells, not the
/// row, and the keyboard focus stays where it was.
#[component(inline_props)]
pub(crate) fn UserRow(user: AdminUserView, users: Users, me: ReadSignal<Option<Uuid>>) -> View {
    let id = user.id;
    let current = create_memo(move || {
        users.loaded.with(|page| {
            page.as_ref()
                .and_then(|page| page.users.iter().find(|u| u.id == id).cloned())
        })
    });
    let row = Row {
        id,
        users,
        current,
        role: create_memo(move || current.with(|u| u.as_ref().map_or(Role::User, |u| u.role))),
        disabled: create_memo(move || current.with(|u| u.as_ref().is_some_and(|u| u.disabled))),
        calls: Busy::new(use_context::<Session>()),
        select: create_node_ref(),
    };
    let is_me = create_selector(move || me.get() == Some(id));
    let disabled = row.disabled;
    let email_attr = user.email.clone();
    let id_attr = id.to_string();
    let joined = date_label(
        user.created_at.year(),
        u8::from(user.created_at.month()),
        user.created_at.day(),
    );
    let user_cell = user_cell(&user, is_me);
    let role_cell = role_cell(row, &user, is_me);
    let last_seen = last_seen(row);
    let actions_cell = actions_cell(row, user.email.clone(), is_me);
    view! {
        tr(data-email=email_attr, data-user-id=id_attr,
            class=move || if disabled.get() { "user-row is-disabled" } else { "user-row" }) {
            (user_cell)
            (role_cell)
            td(data-label="Status") {
                (move || if disabled.get() {
                    view! { span(class="badge badge-off") { "Disabled" } }
                } else {
                    view! { span(class="badge badge-on") { "Active" } }
                })
            }
            td(data-label="Joined") { (joined) }
            td(data-label="Last sign-in") { (last_seen) }
            (actions_cell)
        }
    }
}

/// The email, the name when there is one, and "(you)" on the admin's own row.
fn user_cell(user: &AdminUserView, is_me: ReadSignal<bool>) -> View {
    let email = user.email.clone();
    let name = user.name.clone();
    view! {
        td(class="user-cell", data-label="User") {
            span(class="user-email") { (email) }
            (if name.trim().is_empty() { view! {} } else {
                let name = name.clone();
                view! { span(class="user-name") { (name) } }
            })
            (move || is_me.get().then(|| view! { span(class="you") { "(you)" } }))
        }
    }
}

/// The role select, locked on the admin's own row and while a call runs. A user who still has
/// the old `analyst` role sees it among the choices, so the select shows what is stored.
fn role_cell(row: Row, user: &AdminUserView, is_me: ReadSignal<bool>) -> View {
    let initial_role = user.role;
    let options = role_choices(initial_role)
        .into_iter()
        .map(|r| view! { option(value=r.as_str(), selected=r == initial_role) { (role_label(r)) } })
        .collect::<Vec<_>>();
    let role_name = format!("Role of {}", user.email);
    let busy = row.calls.busy;
    view! {
        td(data-label="Role") {
            select(r#ref=row.select, class="role-select", aria-label=role_name,
                disabled=move || is_me.get() || busy.get(),
                on:change=move |event: web_sys::Event| row.choose_role(&event)) { (options) }
        }
    }
}

/// The roles offered to a user who has `current`: [`ROLES`], and `current` in its rank.
fn role_choices(current: Role) -> Vec<Role> {
    [Role::User, Role::Analyst, Role::Admin]
        .into_iter()
        .filter(|role| ROLES.contains(role) || *role == current)
        .collect()
}

/// When the user last signed in, as time ago.
fn last_seen(row: Row) -> impl Fn() -> String {
    move || {
        row.current.with(|u| {
            u.as_ref().and_then(|u| u.last_login_at).map_or_else(
                || "Never".to_owned(),
                |at| ago_label(now_secs() - at.unix_timestamp()),
            )
        })
    }
}

/// Disable (or enable), delete and a reset link (not for a disabled account, which auth
/// refuses), with the row's progress and error.
fn actions_cell(row: Row, email: String, is_me: ReadSignal<bool>) -> View {
    let confirm = use_context::<Confirm>();
    let Busy { busy, error, .. } = row.calls;
    let disabled = row.disabled;
    let locked = move || is_me.get() || busy.get();
    let reset_email = email.clone();
    let reset_name = format!("Password reset link for {email}");
    view! {
        td(class="row-actions", data-label="Actions") {
            button(r#type="button", class="toggle-disabled", disabled=locked,
                on:click=move |_| row.toggle_disabled()) {
                (move || if disabled.get() { "Enable" } else { "Disable" })
            }
            button(r#type="button", class="delete-user danger", disabled=locked,
                on:click=move |_| row.ask_delete(confirm, email.clone())) {
                "Delete"
            }
            button(r#type="button", class="reset-password", aria-label=reset_name,
                disabled=move || busy.get() || disabled.get(),
                on:click=move |_| ask_reset(confirm, row.users, row.calls, row.id, reset_email.clone())) {
                "Password reset link"
            }
            (move || busy.get().then(|| view! {
                span(class="row-busy", role="status") { "Saving…" }
            }))
            (move || error.get_clone().map(|message| view! {
                p(class="row-error form-error", role="alert") { (message) }
            }))
        }
    }
}

/// Seconds since the Unix epoch by the browser's clock.
fn now_secs() -> i64 {
    if cfg!(target_arch = "wasm32") {
        // Milliseconds as f64 hold whole seconds exactly for millions of years.
        #[allow(clippy::cast_possible_truncation)]
        let secs = (js_sys::Date::now() / 1000.0) as i64;
        secs
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_give_user_or_admin_and_an_old_analyst_still_sees_their_role() {
        assert_eq!(role_choices(Role::User), [Role::User, Role::Admin]);
        assert_eq!(role_choices(Role::Admin), [Role::User, Role::Admin]);
        assert_eq!(
            role_choices(Role::Analyst),
            [Role::User, Role::Analyst, Role::Admin]
        );
    }
}
