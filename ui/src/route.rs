//! Client-side routing over the History API: the pages of the app, the current one as a signal,
//! and links that change it without reloading. Edge answers every such path with `index.html`,
//! so a reload or a shared link lands on the same page.

use contract::auth::Role;
use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

/// A page of the app, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Home,
    Login,
    Register,
    Dashboard,
    Analytics,
    Admin,
    /// `/dashboards`: a project's saved insights and dashboards (the view in the query string).
    Dashboards,
    /// `/shared/<token>`: a shared dashboard, for anyone with the link; the token is the path's.
    Shared,
    /// `/account`: who the user is, their API keys, and the projects they administer.
    Account,
    /// `/invite/<token>`: accepting an invite to a project; the token is the router's.
    Invite,
    /// `/reset/<token>`: setting a new password with a reset link; the token is the path's.
    Reset,
    NotFound,
}

impl Route {
    /// The page at `path` (query and fragment ignored, a trailing slash allowed).
    pub(crate) fn parse(path: &str) -> Self {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        match path {
            "" | "/" => Route::Home,
            "/login" => Route::Login,
            "/register" => Route::Register,
            "/dashboard" => Route::Dashboard,
            "/analytics" => Route::Analytics,
            "/admin" => Route::Admin,
            "/dashboards" => Route::Dashboards,
            "/account" => Route::Account,
            _ if invite_token(path).is_some() => Route::Invite,
            _ if reset_token(path).is_some() => Route::Reset,
            _ if shared_token(path).is_some() => Route::Shared,
            _ => Route::NotFound,
        }
    }

    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::Home => "/",
            Route::Login => "/login",
            Route::Register => "/register",
            Route::Dashboard => "/dashboard",
            Route::Analytics => "/analytics",
            Route::Admin => "/admin",
            Route::Dashboards => "/dashboards",
            // With its token, which only the link's owner has.
            Route::Shared => "/shared",
            Route::Account => "/account",
            // With its token: see `Router::url`.
            Route::Invite => "/invite",
            // With its token, which only the link's holder has.
            Route::Reset => "/reset",
            // Only reached by a path nobody links to; home is where its link leads.
            Route::NotFound => "/",
        }
    }

    /// Whether the page is for visitors who are not signed in.
    pub(crate) fn is_public(self) -> bool {
        matches!(
            self,
            Route::Login | Route::Register | Route::NotFound | Route::Shared | Route::Reset
        )
    }

    /// The least role that may open the page, for pages behind sign-in.
    pub(crate) fn required_role(self) -> Role {
        match self {
            Route::Admin => Role::Admin,
            _ => Role::User,
        }
    }
}

/// The token of an invite link's path, `/invite/<token>` (a trailing slash allowed).
pub(crate) fn invite_token(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let token = path.strip_prefix("/invite/")?;
    let token = token.strip_suffix('/').unwrap_or(token);
    (!token.is_empty() && !token.contains('/')).then(|| token.to_owned())
}

/// The token of a password-reset link's path, `/reset/<token>` (a trailing slash allowed).
pub(crate) fn reset_token(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let token = path.strip_prefix("/reset/")?;
    let token = token.strip_suffix('/').unwrap_or(token);
    (!token.is_empty() && !token.contains('/')).then(|| token.to_owned())
}

/// The token of a shared dashboard's path, `/shared/<token>` (a trailing slash allowed).
pub(crate) fn shared_token(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let token = path.strip_prefix("/shared/")?;
    let token = token.strip_suffix('/').unwrap_or(token);
    (!token.is_empty() && !token.contains('/')).then(|| token.to_owned())
}

/// The current page, shared through the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Router {
    current: Signal<Route>,
    /// The page a signed-out visitor asked for, opened once they sign in.
    intended: Signal<Option<Route>>,
    /// The query string (with its `?`) of that page's address: a link to a dashboard or a view
    /// of Analytics opens on it after signing in.
    intended_search: Signal<String>,
    /// The token of the invite link opened last: kept while the visitor signs in or registers,
    /// so they come back to the same link.
    invite: Signal<Option<String>>,
}

impl Router {
    /// A router on `initial`; in the browser it also follows the back and forward buttons.
    pub(crate) fn new(initial: Route) -> Self {
        let router = Self {
            current: create_signal(initial),
            intended: create_signal(None),
            intended_search: create_signal(String::new()),
            invite: create_signal(invite_token(&location_path())),
        };
        if cfg!(target_arch = "wasm32") {
            router.follow_history();
        }
        router
    }

    /// The page shown now (tracked).
    pub(crate) fn current(self) -> Route {
        self.current.get()
    }

    /// The page a signed-out visitor asked for (tracked).
    pub(crate) fn intended(self) -> Option<Route> {
        self.intended.get()
    }

    /// The token of the invite link being accepted (tracked).
    pub(crate) fn invite(self) -> Option<String> {
        self.invite.get_clone()
    }

    /// The path of `route`: an invite's with its token.
    fn url(self, route: Route) -> String {
        match (route, self.invite.get_clone_untracked()) {
            (Route::Invite, Some(token)) => format!("/invite/{token}"),
            _ => route.path().to_owned(),
        }
    }

    /// Opens `route` as a new history entry.
    pub(crate) fn navigate(self, route: Route) {
        if self.current.get_untracked() != route {
            history(&self.url(route), false);
            self.current.set(route);
        }
    }

    /// Opens `route` with the query string `search` (without its `?`) as a new history entry,
    /// even when it is the page shown: a page reads its query string as it opens.
    pub(crate) fn open(self, route: Route, search: &str) {
        let url = if search.is_empty() {
            route.path().to_owned()
        } else {
            format!("{}?{search}", route.path())
        };
        history(&url, false);
        self.current.set(route);
    }

    /// Shows `route` in place of the current entry: for redirects, which the back button should
    /// skip.
    pub(crate) fn redirect(self, route: Route) {
        if self.current.get_untracked() != route {
            history(&self.url(route), true);
            self.current.set(route);
        }
    }

    /// Sends a signed-out visitor to the sign-in form, remembering where they were going.
    pub(crate) fn require_sign_in(self) {
        self.intended.set(Some(self.current.get_untracked()));
        self.intended_search.set(location_search());
        self.redirect(Route::Login);
    }

    /// Leaves the sign-in and registration forms for the page the visitor had asked for.
    pub(crate) fn signed_in(self) {
        let next = self.intended.take().unwrap_or(Route::Home);
        let search = self.intended_search.take();
        if search.is_empty() || next == Route::Invite {
            self.redirect(next);
        } else {
            history(&format!("{}{search}", next.path()), true);
            self.current.set(next);
        }
    }

    /// After signing out, the next person to sign in starts at home.
    pub(crate) fn forget_intended(self) {
        self.intended.set(None);
        self.intended_search.set(String::new());
    }

    fn follow_history(self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let Router {
            current, invite, ..
        } = self;
        let on_pop = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
            let path = location_path();
            if let Some(token) = invite_token(&path) {
                invite.set(Some(token));
            }
            current.set(Route::parse(&path));
        });
        let _ =
            window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
        // The router lives as long as the page does.
        on_pop.forget();
    }
}

/// The path the browser shows, `/` outside a browser.
pub(crate) fn location_path() -> String {
    if !cfg!(target_arch = "wasm32") {
        return "/".to_owned();
    }
    web_sys::window()
        .and_then(|window| window.location().pathname().ok())
        .unwrap_or_else(|| "/".to_owned())
}

/// The query string the browser shows (with its `?`), empty outside a browser.
pub(crate) fn location_search() -> String {
    if !cfg!(target_arch = "wasm32") {
        return String::new();
    }
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default()
}

/// Puts `path` in the address bar (only in a browser), as a new history entry or in place of
/// the current one.
pub(crate) fn history(path: &str, replace: bool) {
    if !cfg!(target_arch = "wasm32") {
        return;
    }
    let Some(history) = web_sys::window().and_then(|window| window.history().ok()) else {
        return;
    };
    let state = wasm_bindgen::JsValue::NULL;
    let _ = if replace {
        history.replace_state_with_url(&state, "", Some(path))
    } else {
        history.push_state_with_url(&state, "", Some(path))
    };
}

/// A link to a page of the app: a real `<a href>` (so it can be opened in a new tab, and works
/// by keyboard), followed in place on a plain click.
#[component(inline_props)]
pub(crate) fn Link(
    to: Route,
    id: Option<&'static str>,
    class: Option<&'static str>,
    children: Children,
) -> View {
    let router = use_context::<Router>();
    let aria_current = move || (router.current() == to).then_some("page");
    view! {
        a(
            href=to.path(),
            id=id,
            class=class,
            aria-current=aria_current,
            on:click=move |event: web_sys::MouseEvent| {
                let modified = event.ctrl_key() || event.meta_key() || event.shift_key()
                    || event.alt_key() || event.button() != 0;
                if !modified {
                    event.prevent_default();
                    router.navigate(to);
                }
            },
        ) {
            (children)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_pages_and_back() {
        for route in [
            Route::Home,
            Route::Login,
            Route::Register,
            Route::Dashboard,
            Route::Analytics,
            Route::Admin,
            Route::Dashboards,
            Route::Account,
        ] {
            assert_eq!(Route::parse(route.path()), route);
        }
        assert_eq!(Route::parse("/login/"), Route::Login);
        assert_eq!(Route::parse("/login?next=x#top"), Route::Login);
        assert_eq!(Route::parse("/analytics/trends"), Route::NotFound);
        assert_eq!(Route::parse(""), Route::Home);
    }

    #[test]
    fn an_invite_link_keeps_its_token() {
        assert_eq!(Route::parse("/invite/abc_D-9"), Route::Invite);
        assert_eq!(invite_token("/invite/abc_D-9/"), Some("abc_D-9".to_owned()));
        assert_eq!(invite_token("/invite/abc?x=1"), Some("abc".to_owned()));
        for path in ["/invite", "/invite/", "/invite/a/b", "/invites/abc"] {
            assert_eq!(invite_token(path), None, "{path}");
            assert_eq!(Route::parse(path), Route::NotFound, "{path}");
        }
    }

    #[test]
    fn a_reset_link_keeps_its_token_and_is_public() {
        assert_eq!(Route::parse("/reset/abc_D-9"), Route::Reset);
        assert_eq!(reset_token("/reset/abc_D-9/"), Some("abc_D-9".to_owned()));
        assert_eq!(reset_token("/reset/abc?x=1"), Some("abc".to_owned()));
        for path in ["/reset", "/reset/", "/reset/a/b", "/resets/abc"] {
            assert_eq!(reset_token(path), None, "{path}");
            assert_eq!(Route::parse(path), Route::NotFound, "{path}");
        }
        assert!(Route::Reset.is_public());
    }

    #[test]
    fn a_shared_link_keeps_its_token_and_is_public() {
        assert_eq!(Route::parse("/shared/abc_D-9"), Route::Shared);
        assert_eq!(shared_token("/shared/abc_D-9/"), Some("abc_D-9".to_owned()));
        assert_eq!(shared_token("/shared/abc?embed=1"), Some("abc".to_owned()));
        for path in ["/shared", "/shared/", "/shared/a/b"] {
            assert_eq!(shared_token(path), None, "{path}");
            assert_eq!(Route::parse(path), Route::NotFound, "{path}");
        }
        assert!(Route::Shared.is_public() && !Route::Dashboards.is_public());
    }

    #[test]
    fn each_section_names_the_least_role_that_opens_it() {
        assert_eq!(Route::Dashboard.required_role(), Role::User);
        assert_eq!(Route::Analytics.required_role(), Role::User);
        assert_eq!(Route::Admin.required_role(), Role::Admin);
        assert!(Route::Login.is_public() && !Route::Home.is_public());
    }
}
