//! The users tab: search, pages, and per user the role, disabling, deletion and a password
//! reset link. The signed-in admin cannot change or delete their own account here, so nobody
//! locks themselves out by a slip of the mouse (auth also refuses to leave no admin at all).

mod reset;
mod row;
mod state;

use sycamore::prelude::*;
use uuid::Uuid;

use self::reset::ResetLinkPanel;
use self::row::UserRow;
use self::state::Users;
use crate::browser::after;
use crate::session::Session;

/// How long typing in the search box pauses before the list is asked for.
const SEARCH_DEBOUNCE_MS: i32 = 300;

#[component]
pub(crate) fn UsersPanel() -> View {
    let session = use_context::<Session>();
    let users = Users::new();
    on_mount(move || users.load(session));
    let me = create_memo(move || session.user().map(|user| user.id));
    view! {
        SearchBar(users=users)
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
        ResetLinkPanel(users=users)
        UsersTable(users=users, me=me)
        NoUsers(users=users)
        Pager(users=users)
    }
}

/// The search box, which asks for the first page of its matches once typing pauses, and the
/// count of the page.
#[component(inline_props)]
fn SearchBar(users: Users) -> View {
    let session = use_context::<Session>();
    let typed = create_signal(String::new());
    let keystrokes = create_signal(0_u64);
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
    view! {
        div(class="admin-toolbar") {
            div(class="field search-field") {
                label(r#for="user-search") { "Search users" }
                input(id="user-search", r#type="search", placeholder="Email or name",
                    autocomplete="off", bind:value=typed, on:input=on_search)
            }
            p(id="users-count", class="page-label", aria-live="polite") { (move || users.label()) }
        }
    }
}

/// The table of the page's users, a row each.
#[component(inline_props)]
fn UsersTable(users: Users, me: ReadSignal<Option<Uuid>>) -> View {
    let rows = create_memo(move || {
        users.loaded.with(|page| {
            page.as_ref()
                .map(|page| page.users.clone())
                .unwrap_or_default()
        })
    });
    view! {
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
    }
}

/// The line saying the list is empty, or that nobody matches the search.
#[component(inline_props)]
fn NoUsers(users: Users) -> View {
    let empty = move || {
        !users.loading.get()
            && users.error.with(Option::is_none)
            && users
                .loaded
                .with(|page| page.as_ref().is_some_and(|p| p.users.is_empty()))
    };
    view! {
        (move || empty().then(|| view! {
            p(id="users-empty", class="status", role="status") {
                (if users.query.with(|q| q.trim().is_empty()) {
                    "No users yet.".to_owned()
                } else {
                    format!("No user matches “{}”.", users.query.get_clone())
                })
            }
        }))
    }
}

/// The previous and next page buttons around the page's count.
#[component(inline_props)]
fn Pager(users: Users) -> View {
    let session = use_context::<Session>();
    let has_prev = move || users.page.get() > 1;
    view! {
        nav(class="pager", aria-label="Pages of users") {
            button(id="users-prev", r#type="button", disabled=move || !has_prev() || users.loading.get(),
                on:click=move |_| {
                    users.page.update(|p| *p = p.saturating_sub(1).max(1));
                    users.load(session);
                }) { "Previous" }
            span(class="page-label") { (move || users.label()) }
            button(id="users-next", r#type="button", disabled=move || !users.has_next() || users.loading.get(),
                on:click=move |_| {
                    users.page.update(|p| *p += 1);
                    users.load(session);
                }) { "Next" }
        }
    }
}
