//! The users tab: search, pages, and per user the role, disabling and deletion. The signed-in
//! admin cannot change or delete their own account here, so nobody locks themselves out by a
//! slip of the mouse (auth also refuses to leave no admin at all).

use std::rc::Rc;

use contract::auth::{AdminUserView, Role, UpdateUserRequest, UserPage};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use super::browser::after;
use super::confirm::{Ask, Confirm};
use crate::api::{self, Action};
use crate::format::{ago_label, date_label, has_next_page, page_label};
use crate::pages::role_label;
use crate::session::Session;

/// How long typing in the search box pauses before the list is asked for.
const SEARCH_DEBOUNCE_MS: i32 = 300;

const ROLES: [Role; 3] = [Role::User, Role::Analyst, Role::Admin];

/// The list as last loaded, and how the last load went.
#[derive(Debug, Clone, Copy)]
struct Users {
    page: Signal<u32>,
    query: Signal<String>,
    loaded: Signal<Option<UserPage>>,
    loading: Signal<bool>,
    error: Signal<Option<String>>,
    /// Bumped by every load, so an answer that comes after a newer request is dropped.
    generation: Signal<u64>,
}

impl Users {
    fn load(self, session: Session) {
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        let page = self.page.get_untracked().to_string();
        let query = self.query.get_clone_untracked();
        let path = api::with_query("/api/admin/users", &[("page", &page), ("q", query.trim())]);
        self.loading.set(true);
        spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::get::<UserPage>(&path, &token).await }
                })
                .await;
            if !self.loading.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.loading.set(false);
            match answer {
                Ok(page) => {
                    self.error.set(None);
                    self.loaded.set(Some(page));
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    fn replace(self, user: AdminUserView) {
        self.loaded.update(|page| {
            if let Some(found) = page
                .as_mut()
                .and_then(|page| page.users.iter_mut().find(|u| u.id == user.id))
            {
                *found = user;
            }
        });
    }
}

#[component]
pub(crate) fn UsersPanel() -> View {
    let session = use_context::<Session>();
    let users = Users {
        page: create_signal(1),
        query: create_signal(String::new()),
        loaded: create_signal(None),
        loading: create_signal(true),
        error: create_signal(None),
        generation: create_signal(0),
    };
    let typed = create_signal(String::new());
    let keystrokes = create_signal(0_u64);
    on_mount(move || users.load(session));
    let on_search = move |_| {
        let stroke = keystrokes.update_silent(|k| {
            *k += 1;
            *k
        });
        after(SEARCH_DEBOUNCE_MS, move || {
            if keystrokes.is_alive() && keystrokes.get_untracked() == stroke {
                // A timer runs outside any reactive root, where `batch` is not available;
                // nothing tracks the page and query to load on their own, so set both, then load.
                users.page.set(1);
                users.query.set(typed.get_clone_untracked());
                users.load(session);
            }
        });
    };
    let me = create_memo(move || session.user().map(|user| user.id));
    let rows = create_memo(move || {
        users.loaded.with(|page| {
            page.as_ref()
                .map(|page| page.users.clone())
                .unwrap_or_default()
        })
    });
    let label = move || {
        users.loaded.with(|page| {
            page.as_ref().map_or_else(String::new, |page| {
                page_label(
                    page.page,
                    page.per_page,
                    page.users.len(),
                    page.total,
                    "users",
                )
            })
        })
    };
    let has_next = move || {
        users.loaded.with(|page| {
            page.as_ref()
                .is_some_and(|page| has_next_page(page.page, page.per_page, page.total))
        })
    };
    let has_prev = move || users.page.get() > 1;
    let empty = move || {
        !users.loading.get()
            && users.error.with(Option::is_none)
            && users
                .loaded
                .with(|page| page.as_ref().is_some_and(|p| p.users.is_empty()))
    };
    view! {
        div(class="admin-toolbar") {
            div(class="field search-field") {
                label(r#for="user-search") { "Search users" }
                input(id="user-search", r#type="search", placeholder="Email or name",
                    autocomplete="off", bind:value=typed, on:input=on_search)
            }
            p(id="users-count", class="page-label", aria-live="polite") { (label) }
        }
        (move || users.loading.get().then(|| view! {
            p(id="users-loading", class="status", role="status") { "Loading users…" }
        }))
        (move || users.error.get_clone().map(|message| view! {
            p(id="users-error", class="form-error", role="alert") {
                (message) " "
                button(r#type="button", class="link-button", on:click=move |_| users.load(session)) {
                    "Try again"
                }
            }
        }))
        div(class="table-scroll") {
            table(id="users-table", class="admin-table", aria-busy=move || users.loading.get().to_string()) {
                caption(class="visually-hidden") { "Users" }
                thead {
                    tr {
                        th(scope="col") { "User" }
                        th(scope="col") { "Role" }
                        th(scope="col") { "Status" }
                        th(scope="col") { "Joined" }
                        th(scope="col") { "Last sign-in" }
                        th(scope="col") { span(class="visually-hidden") { "Actions" } }
                    }
                }
                tbody {
                    Keyed(
                        list=rows,
                        view=move |user| view! { UserRow(user=user, users=users, me=me) },
                        key=|user| user.id,
                    )
                }
            }
        }
        (move || empty().then(|| view! {
            p(id="users-empty", class="status", role="status") {
                (if users.query.with(|q| q.trim().is_empty()) {
                    "No users yet.".to_owned()
                } else {
                    format!("No user matches “{}”.", users.query.get_clone())
                })
            }
        }))
        nav(class="pager", aria-label="Pages of users") {
            button(id="users-prev", r#type="button", disabled=move || !has_prev() || users.loading.get(),
                on:click=move |_| {
                    users.page.update(|p| *p = p.saturating_sub(1).max(1));
                    users.load(session);
                }) { "Previous" }
            span(class="page-label") { (label) }
            button(id="users-next", r#type="button", disabled=move || !has_next() || users.loading.get(),
                on:click=move |_| {
                    users.page.update(|p| *p += 1);
                    users.load(session);
                }) { "Next" }
        }
    }
}

/// One row. It reads its user from the list by id, so a change re-renders its cells, not the
/// row, and the keyboard focus stays where it was.
#[component(inline_props)]
fn UserRow(user: AdminUserView, users: Users, me: ReadSignal<Option<Uuid>>) -> View {
    let session = use_context::<Session>();
    let confirm = use_context::<Confirm>();
    let id = user.id;
    let email = user.email.clone();
    let current = create_memo(move || {
        users.loaded.with(|page| {
            page.as_ref()
                .and_then(|page| page.users.iter().find(|u| u.id == id).cloned())
        })
    });
    let role = create_memo(move || current.with(|u| u.as_ref().map_or(Role::User, |u| u.role)));
    let disabled = create_memo(move || current.with(|u| u.as_ref().is_some_and(|u| u.disabled)));
    let busy = create_signal(false);
    let error: Signal<Option<String>> = create_signal(None);
    let is_me = move || me.get() == Some(id);
    let locked = move || is_me() || busy.get();
    let select = create_node_ref();
    // The select shows the role as stored: after a change, and after a refused one.
    let show_role = move || {
        if let Some(node) = select.try_get() {
            let _ = js_sys::Reflect::set(
                &node,
                &"value".into(),
                &role.get_untracked().as_str().into(),
            );
        }
    };

    let update = move |request: UpdateUserRequest| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let path = format!("/api/admin/users/{id}");
            let answer =
                session
                    .authorized(|token| {
                        let path = path.clone();
                        let request = request.clone();
                        async move {
                            api::send::<_, AdminUserView>("PATCH", &path, &request, &token).await
                        }
                    })
                    .await;
            if !busy.is_alive() {
                return;
            }
            busy.set(false);
            match answer {
                Ok(user) => users.replace(user),
                Err(err) => {
                    error.set(Some(api::explain(&err, Action::Work)));
                    show_role();
                }
            }
        });
    };
    let on_role = move |event: web_sys::Event| {
        let chosen = event
            .target()
            .and_then(|target| js_sys::Reflect::get(&target, &"value".into()).ok())
            .and_then(|value| value.as_string())
            .and_then(|value| value.parse::<Role>().ok());
        match chosen {
            Some(chosen) if chosen != role.get_untracked() => update(UpdateUserRequest {
                role: Some(chosen),
                disabled: None,
            }),
            _ => show_role(),
        }
    };
    let toggle = move |_| {
        update(UpdateUserRequest {
            role: None,
            disabled: Some(!disabled.get_untracked()),
        });
    };
    let delete = {
        let email = email.clone();
        move |_| {
            let email = email.clone();
            confirm.ask(Ask {
                title: "Delete this user?".to_owned(),
                message: format!(
                    "{email} will be signed out and their account and personal data erased. \
                     This cannot be undone."
                ),
                confirm: "Delete user".to_owned(),
                on_confirm: Rc::new(move || erase(session, users, id, busy, error)),
            });
        }
    };

    let name = user.name.clone();
    let joined = date_label(
        user.created_at.year(),
        u8::from(user.created_at.month()),
        user.created_at.day(),
    );
    let last_seen = move || {
        current.with(|u| {
            u.as_ref().and_then(|u| u.last_login_at).map_or_else(
                || "Never".to_owned(),
                |at| ago_label(now_secs() - at.unix_timestamp()),
            )
        })
    };
    let initial_role = user.role;
    let options = ROLES
        .into_iter()
        .map(|r| view! { option(value=r.as_str(), selected=r == initial_role) { (role_label(r)) } })
        .collect::<Vec<_>>();
    let role_name = format!("Role of {email}");
    let email_attr = email.clone();
    let id_attr = id.to_string();
    let view = view! {
        tr(data-email=email_attr, data-user-id=id_attr,
            class=move || if disabled.get() { "user-row is-disabled" } else { "user-row" }) {
            td(class="user-cell", data-label="User") {
                span(class="user-email") { (email) }
                (if name.trim().is_empty() { view! {} } else {
                    let name = name.clone();
                    view! { span(class="user-name") { (name) } }
                })
                (move || is_me().then(|| view! { span(class="you") { "(you)" } }))
            }
            td(data-label="Role") {
                select(r#ref=select, class="role-select", aria-label=role_name,
                    disabled=locked, on:change=on_role) { (options) }
            }
            td(data-label="Status") {
                (move || if disabled.get() {
                    view! { span(class="badge badge-off") { "Disabled" } }
                } else {
                    view! { span(class="badge badge-on") { "Active" } }
                })
            }
            td(data-label="Joined") { (joined) }
            td(data-label="Last sign-in") { (last_seen) }
            td(class="row-actions", data-label="Actions") {
                button(r#type="button", class="toggle-disabled", disabled=locked, on:click=toggle) {
                    (move || if disabled.get() { "Enable" } else { "Disable" })
                }
                button(r#type="button", class="delete-user danger", disabled=locked, on:click=delete) {
                    "Delete"
                }
                (move || busy.get().then(|| view! {
                    span(class="row-busy", role="status") { "Saving…" }
                }))
                (move || error.get_clone().map(|message| view! {
                    p(class="row-error form-error", role="alert") { (message) }
                }))
            }
        }
    };
    view
}

/// `DELETE /api/admin/users/{id}`; on success the user leaves the list.
fn erase(
    session: Session,
    users: Users,
    id: Uuid,
    busy: Signal<bool>,
    error: Signal<Option<String>>,
) {
    if !busy.is_alive() || busy.get_untracked() {
        return;
    }
    busy.set(true);
    error.set(None);
    spawn_local(async move {
        let path = format!("/api/admin/users/{id}");
        let answer = session
            .authorized(|token| {
                let path = path.clone();
                async move { api::send_without_answer::<()>("DELETE", &path, None, &token).await }
            })
            .await;
        if !busy.is_alive() {
            return;
        }
        busy.set(false);
        match answer {
            Ok(()) => {
                if users.loaded.is_alive() {
                    users.loaded.update(|page| {
                        if let Some(page) = page.as_mut() {
                            page.users.retain(|u| u.id != id);
                            page.total = page.total.saturating_sub(1);
                        }
                    });
                }
            }
            Err(err) => error.set(Some(api::explain(&err, Action::Work))),
        }
    });
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
