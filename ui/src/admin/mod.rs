//! The admin panel: users and their roles, projects with their write keys and set-up snippets,
//! and the system's status, one tab each.

pub(crate) mod projects;
mod status;
mod users;

use sycamore::prelude::*;

use crate::confirm::{Confirm, ConfirmDialog};

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
