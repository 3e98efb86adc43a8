//! The admin panel: users and their roles, projects with their write keys and set-up snippets,
//! and the system's status, one tab each.

mod projects;
mod snippets;
mod status;
mod users;

use std::rc::Rc;

use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

/// A tab of the panel, named in the address bar as `?tab=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Users,
    Projects,
    Status,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Users, Tab::Projects, Tab::Status];

    fn name(self) -> &'static str {
        match self {
            Tab::Users => "users",
            Tab::Projects => "projects",
            Tab::Status => "status",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Tab::Users => "Users",
            Tab::Projects => "Projects and keys",
            Tab::Status => "System status",
        }
    }

    fn tab_id(self) -> &'static str {
        match self {
            Tab::Users => "tab-users",
            Tab::Projects => "tab-projects",
            Tab::Status => "tab-status",
        }
    }

    fn panel_id(self) -> &'static str {
        match self {
            Tab::Users => "panel-users",
            Tab::Projects => "panel-projects",
            Tab::Status => "panel-status",
        }
    }

    /// The tab a query string (`?tab=projects&x=1`) names; users when it names none.
    pub(crate) fn from_query(search: &str) -> Self {
        crate::api::query_pairs(search)
            .into_iter()
            .filter(|(name, _)| name == "tab")
            .find_map(|(_, value)| Tab::ALL.into_iter().find(|tab| tab.name() == value))
            .unwrap_or(Tab::Users)
    }

    /// The tab an arrow, Home or End key moves to from this one.
    fn moved(self, key: &str) -> Option<Self> {
        let index = Tab::ALL.iter().position(|tab| *tab == self)?;
        crate::a11y::tab_key(index, Tab::ALL.len(), key).map(|next| Tab::ALL[next])
    }
}

#[allow(non_snake_case)]
pub(crate) fn AdminPage() -> View {
    let initial = Tab::from_query(&crate::route::location_search());
    let current = create_signal(initial);
    provide_context(Confirm::new());
    let select = move |tab: Tab, focus: bool| {
        current.set(tab);
        remember_tab(tab);
        if focus {
            crate::a11y::focus_by_id(tab.tab_id());
        }
    };
    let tabs = Tab::ALL
        .into_iter()
        .map(|tab| {
            let selected = move || current.get() == tab;
            view! {
                button(
                    id=tab.tab_id(),
                    r#type="button",
                    role="tab",
                    aria-selected=move || selected().to_string(),
                    aria-controls=tab.panel_id(),
                    tabindex=move || if selected() { "0" } else { "-1" },
                    on:click=move |_| select(tab, false),
                    on:keydown=move |event: web_sys::KeyboardEvent| {
                        if let Some(next) = tab.moved(&event.key()) {
                            event.prevent_default();
                            select(next, true);
                        }
                    },
                ) { (tab.title()) }
            }
        })
        .collect::<Vec<_>>();
    // Only the open tab is rendered: leaving the status tab stops its refreshing.
    let panel = move || {
        let tab = current.get();
        let content = match tab {
            Tab::Users => view! { users::UsersPanel {} },
            Tab::Projects => view! { projects::ProjectsPanel {} },
            Tab::Status => view! { status::StatusPanel {} },
        };
        view! {
            div(id=tab.panel_id(), class="admin-panel", role="tabpanel", aria-labelledby=tab.tab_id(),
                tabindex="0") {
                (content)
            }
        }
    };
    view! {
        section(id="admin-page", aria-labelledby="page-title") {
            h2(id="page-title") { "Admin" }
            div(class="admin-tabs", role="tablist", aria-label="Admin sections") { (tabs) }
            (panel)
            ConfirmDialog {}
        }
    }
}

/// Keeps the open tab in the address bar, so a reload or a shared link opens it again.
fn remember_tab(tab: Tab) {
    if !cfg!(target_arch = "wasm32") {
        return;
    }
    let Some(history) = web_sys::window().and_then(|window| window.history().ok()) else {
        return;
    };
    let url = format!("/admin?tab={}", tab.name());
    let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
}

/// `window.location.origin`: where SDKs reach this server.
fn origin() -> String {
    if !cfg!(target_arch = "wasm32") {
        return "https://analytics.example.com".to_owned();
    }
    web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default()
}

/// Runs `due` once after `delay_ms`.
fn after(delay_ms: i32, due: impl FnOnce() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let due = wasm_bindgen::closure::Closure::once_into_js(due);
    let _ =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(due.unchecked_ref(), delay_ms);
}

/// Runs `tick` every `period_ms` for as long as the current scope lives.
fn every(period_ms: i32, tick: impl FnMut() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let tick = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(tick);
    let Ok(id) = window.set_interval_with_callback_and_timeout_and_arguments_0(
        tick.as_ref().unchecked_ref(),
        period_ms,
    ) else {
        return;
    };
    on_cleanup(move || {
        window.clear_interval_with_handle(id);
        drop(tick);
    });
}

/// Writes `text` to the clipboard; whether it worked.
async fn copy_to_clipboard(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    js_sys::futures::JsFuture::from(promise).await.is_ok()
}

/// A question before a change that cannot be undone.
#[derive(Clone)]
pub(crate) struct Ask {
    pub(crate) title: String,
    pub(crate) message: String,
    /// The confirming button's label: "Delete user", "Revoke key".
    pub(crate) confirm: String,
    pub(crate) on_confirm: Rc<dyn Fn()>,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask")
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// The panel's one confirmation dialog, shared through the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Confirm {
    pending: Signal<Option<Ask>>,
}

impl Confirm {
    fn new() -> Self {
        Self {
            pending: create_signal(None),
        }
    }

    /// Asks `ask`; its action runs only when the admin confirms.
    pub(crate) fn ask(self, ask: Ask) {
        self.pending.set(Some(ask));
    }
}

/// A modal `<dialog>`: the browser traps the focus in it and closes it on Escape. Cancel has
/// the focus first, so Enter does not destroy anything by accident; the focus goes back to the
/// button that opened it.
#[component]
fn ConfirmDialog() -> View {
    let confirm = use_context::<Confirm>();
    let dialog = create_node_ref();
    let opener: Signal<Option<web_sys::HtmlElement>> = create_signal(None);
    let close = move || confirm.pending.set(None);
    let view = view! {
        dialog(r#ref=dialog, id="confirm-dialog", class="confirm-dialog", aria-labelledby="confirm-title",
            aria-describedby="confirm-message", on:close=move |_| close()) {
            (move || confirm.pending.get_clone().map(|ask| {
                let title = ask.title.clone();
                let message = ask.message.clone();
                let label = ask.confirm.clone();
                let action = ask.on_confirm;
                view! {
                    h3(id="confirm-title") { (title) }
                    p(id="confirm-message") { (message) }
                    div(class="dialog-actions") {
                        button(id="cancel-delete", r#type="button", on:click=move |_| close()) {
                            "Cancel"
                        }
                        button(id="confirm-delete", r#type="button", class="danger", on:click=move |_| {
                            // The action first: closing disposes of this button and its handler.
                            action();
                            close();
                        }) { (label) }
                    }
                }
            }))
        }
    };
    create_effect(move || {
        let open = confirm.pending.with(Option::is_some);
        let Some(element) = dialog
            .try_get()
            .and_then(|node| node.dyn_into::<web_sys::HtmlDialogElement>().ok())
        else {
            return;
        };
        if open && !element.open() {
            let active = web_sys::window()
                .and_then(|window| window.document())
                .and_then(|document| document.active_element())
                .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
            opener.set_silent(active);
            let _ = element.show_modal();
            // The question may be drawn after this effect: focus Cancel once it is.
            after(0, || crate::a11y::focus_by_id("cancel-delete"));
        } else if !open && element.open() {
            element.close();
        }
        if !open {
            if let Some(opener) = opener.take_silent() {
                if opener.is_connected() {
                    let _ = opener.focus();
                }
            }
        }
    });
    view
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use contract::auth::{Role, UserView};

    use super::*;
    use crate::route::Route;
    use crate::session::{Auth, Session, SignedIn};

    pub(super) fn render_admin() -> String {
        sycamore::web::render_to_string(|| {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "root@example.com",
                "name": "Root",
                "role": Role::Admin,
            });
            let user: UserView = serde_json::from_value(user).expect("a user view");
            let session = Session::new(Auth::SignedIn(SignedIn::new(user, "token".to_owned())));
            crate::shell(Route::Admin, session)
        })
    }

    #[test]
    fn the_tab_comes_from_the_query_string() {
        assert_eq!(Tab::from_query(""), Tab::Users);
        assert_eq!(Tab::from_query("?tab=projects"), Tab::Projects);
        assert_eq!(Tab::from_query("?x=1&tab=status"), Tab::Status);
        assert_eq!(Tab::from_query("?tab=nope"), Tab::Users);
    }

    #[test]
    fn arrows_home_and_end_move_between_tabs_and_wrap() {
        assert_eq!(Tab::Users.moved("ArrowRight"), Some(Tab::Projects));
        assert_eq!(Tab::Status.moved("ArrowRight"), Some(Tab::Users));
        assert_eq!(Tab::Users.moved("ArrowLeft"), Some(Tab::Status));
        assert_eq!(Tab::Projects.moved("Home"), Some(Tab::Users));
        assert_eq!(Tab::Users.moved("End"), Some(Tab::Status));
        assert_eq!(Tab::Users.moved("a"), None);
    }

    #[test]
    fn the_panel_has_three_tabs_with_the_users_tab_open_and_a_closed_dialog() {
        let html = render_admin();
        assert!(html.contains("id=\"admin-page\""), "{html}");
        for id in ["tab-users", "tab-projects", "tab-status"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}: {html}");
        }
        assert!(html.contains("role=\"tablist\""), "{html}");
        assert!(html.contains("aria-selected=\"true\""), "{html}");
        assert!(html.contains("id=\"panel-users\""), "{html}");
        assert!(html.contains("id=\"users-table\""), "{html}");
        assert!(html.contains("id=\"user-search\""), "{html}");
        assert!(html.contains("id=\"confirm-dialog\""), "{html}");
        assert!(
            !html.contains("id=\"confirm-delete\""),
            "nothing asked yet: {html}"
        );
    }
}
