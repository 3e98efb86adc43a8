//! The web app: a sycamore single-page application compiled to WebAssembly and served by edge.

mod a11y;
mod account;
mod admin;
mod analytics;
mod api;
mod browser;
mod busy;
mod confirm;
mod dashboard;
mod dashboards;
mod format;
mod invite;
mod pages;
mod reset;
mod route;
mod session;
mod shared;
mod tracker;

use sycamore::prelude::*;

use crate::pages::{HomePage, LoginPage, NotFoundPage, RegisterPage};
use crate::route::{Link, Route, Router};
use crate::session::{Auth, Phase, Session};
use crate::tracker::Tracker;

/// The whole app: starts on the page in the address bar and restores the session from the
/// refresh cookie.
#[component]
pub fn App() -> View {
    let session = Session::new(Auth::Checking);
    on_mount(move || session.restore());
    shell(Route::parse(&route::location_path()), session)
}

/// The app on `initial` with `session`: the masthead and the page the route and session allow.
pub(crate) fn shell(initial: Route, session: Session) -> View {
    let router = Router::new(initial);
    let tracker = Tracker::new(session);
    provide_context(router);
    provide_context(session);
    provide_context(tracker);
    if cfg!(target_arch = "wasm32") {
        tracker.start();
    }
    // The app measures itself: a page view for each page a signed-in user opens.
    create_effect(move || {
        let route = router.current();
        if session.phase() == Phase::SignedIn && !route.is_public() {
            tracker.capture("$pageview", serde_json::Map::new());
        }
    });
    // Pages behind sign-in send a signed-out visitor to the sign-in form (and back afterwards);
    // the forms send a signed-in one home.
    create_effect(move || {
        let route = router.current();
        match session.phase() {
            Phase::Checking => {}
            Phase::SignedOut if !route.is_public() => router.require_sign_in(),
            Phase::SignedIn if matches!(route, Route::Login | Route::Register) => {
                router.signed_in();
            }
            Phase::SignedOut | Phase::SignedIn => {}
        }
    });
    // Every route set draws the page again (a page reads its address as it opens: a link,
    // back and forward); the session's phase is read, and so tracked, only where it changes
    // what is drawn.
    let app_page = move || {
        let route = router.current();
        let phase = (!same_for_any_session(route)).then(|| session.phase());
        page_of(phase, route)
    };
    // A shared dashboard is for anyone with its link and shows nothing of the rest of the app:
    // no masthead, no way in. It is not drawn again when the session turns out to be none.
    let shared = create_selector(move || router.current() == Route::Shared);
    let masthead = move || (!shared.get()).then(|| view! { Masthead {} });
    let page = move || {
        if shared.get() {
            view! { shared::SharedPage {} }
        } else {
            app_page()
        }
    };
    view! {
        div(class="shell") {
            (masthead)
            main(id="page", class="page") { (page) }
        }
    }
}

/// Whether the page of `route` is the same whoever opens it (a shared dashboard, a
/// password-reset link): it does not wait for the check of the session, nor is it drawn again
/// when that check ends, which lost what was typed into the reset form.
fn same_for_any_session(route: Route) -> bool {
    matches!(route, Route::Shared | Route::Reset)
}

/// The page of `route` for a session in `phase` (`None` for a page the same for any session).
fn page_of(phase: Option<Phase>, route: Route) -> View {
    match (phase, route) {
        // Drawn apart, below: whoever opens the link, signed in or not.
        (_, Route::Shared) => view! {},
        // So is a password-reset link, for whoever holds it.
        (_, Route::Reset) => view! { reset::ResetPage {} },
        // (No phase only for the two above.)
        (Some(Phase::Checking) | None, _) => view! {
            p(id="session-checking", class="status", role="status") { "Checking your session…" }
        },
        (_, Route::Login) => view! { LoginPage {} },
        (_, Route::Register) => view! { RegisterPage {} },
        (_, Route::NotFound) => view! { NotFoundPage {} },
        // A signed-out visitor is on the way to the sign-in form.
        (Some(Phase::SignedOut), _) => view! {},
        (Some(Phase::SignedIn), Route::Home) => view! { HomePage {} },
        (Some(Phase::SignedIn), Route::Dashboard) => {
            pages::restricted(Route::Dashboard, dashboard::DashboardPage)
        }
        (Some(Phase::SignedIn), Route::Analytics) => {
            pages::restricted(Route::Analytics, analytics::AnalyticsPage)
        }
        (Some(Phase::SignedIn), Route::Admin) => pages::restricted(Route::Admin, admin::AdminPage),
        (Some(Phase::SignedIn), Route::Dashboards) => {
            pages::restricted(Route::Dashboards, dashboards::DashboardsPage)
        }
        (Some(Phase::SignedIn), Route::Invite) => view! { invite::InvitePage {} },
        (Some(Phase::SignedIn), Route::Account) => view! { account::AccountPage {} },
    }
}

/// The product's name on every page; for a signed-in user also the sections their role opens,
/// who they are, and the way out.
#[component]
fn Masthead() -> View {
    let session = use_context::<Session>();
    let router = use_context::<Router>();
    let busy = create_signal(false);
    let sign_out = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        js_sys::futures::spawn_local(async move {
            session.sign_out().await;
            router.forget_intended();
            if busy.is_alive() {
                busy.set(false);
            }
        });
    };
    view! {
        header(class="masthead") {
            div(class="brand") {
                h1(id="product-name") {
                    Link(to=Route::Home) { (contract::PRODUCT_NAME) }
                }
                p(class="tagline") {
                    "Every event collected, none lost, none counted twice."
                }
            }
            (move || session.user().map(|user| {
                let name = pages::display_name(&user);
                let role = pages::role_label(user.role);
                let links = pages::SECTIONS
                    .iter()
                    .filter(|(route, _, _)| user.role.includes(route.required_role()))
                    .map(|&(route, title, _)| view! {
                        li { Link(to=route, id=nav_id(route)) { (title) } }
                    })
                    .collect::<Vec<_>>();
                view! {
                    nav(class="sections-nav", aria-label="Sections") {
                        ul {
                            li { Link(to=Route::Home, id="nav-home") { "Home" } }
                            (links)
                        }
                    }
                    div(class="account") {
                        span(id="signed-in-as") {
                            "Signed in as "
                            strong { (name) }
                            " "
                            span(id="signed-in-role", class="role") { (role) }
                        }
                        Link(to=Route::Account, id="nav-account") { "Account" }
                        button(id="sign-out", r#type="button", disabled=busy, on:click=sign_out) {
                            (move || if busy.get() { "Signing out…" } else { "Sign out" })
                        }
                    }
                }
            }))
        }
    }
}

fn nav_id(route: Route) -> &'static str {
    match route {
        Route::Dashboard => "nav-dashboard",
        Route::Analytics => "nav-analytics",
        Route::Dashboards => "nav-dashboards",
        Route::Admin => "nav-admin",
        _ => "nav-other",
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use contract::auth::{Role, UserView};

    use super::*;
    use crate::session::SignedIn;

    fn signed_in(name: &str, role: Role) -> Session {
        let user = serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "email": "ada@example.com",
            "name": name,
            "role": role,
        });
        let user: UserView = serde_json::from_value(user).expect("a user view");
        Session::new(Auth::SignedIn(SignedIn::new(user, "token".to_owned())))
    }

    fn render(route: Route, session: impl FnOnce() -> Session + 'static) -> String {
        sycamore::web::render_to_string(move || shell(route, session()))
    }

    #[test]
    fn only_a_reset_link_and_a_shared_dashboard_are_drawn_alike_for_any_session() {
        assert!(same_for_any_session(Route::Reset));
        assert!(same_for_any_session(Route::Shared));
        for route in [Route::Home, Route::Login, Route::Dashboards, Route::Invite] {
            assert!(!same_for_any_session(route), "{route:?}");
        }
    }

    #[test]
    fn the_app_shows_the_product_name() {
        let html = sycamore::web::render_to_string(App);
        assert!(html.contains("Event Analytics"), "{html}");
        assert!(html.contains("id=\"product-name\""), "{html}");
    }

    #[test]
    fn the_sign_in_form_has_labelled_inputs_and_a_submit_button() {
        let html = render(Route::Login, || Session::new(Auth::SignedOut));
        for id in ["login-email", "login-password"] {
            assert!(
                html.contains(&format!("for=\"{id}\"")),
                "{id} labelled: {html}"
            );
            assert!(html.contains(&format!("id=\"{id}\"")), "{html}");
        }
        assert!(html.contains("id=\"login-submit\""), "{html}");
        assert!(html.contains("id=\"product-name\""), "{html}");
        assert!(!html.contains("id=\"sign-out\""), "{html}");
    }

    #[test]
    fn home_names_the_user_and_their_role_and_links_only_what_the_role_opens() {
        let html = render(Route::Home, || signed_in("Ada", Role::User));
        assert!(html.contains("id=\"signed-in-as\""), "{html}");
        assert!(html.contains("Ada"), "{html}");
        assert!(html.contains(">User<"), "{html}");
        assert!(html.contains("id=\"sign-out\""), "{html}");
        assert!(html.contains("href=\"/dashboard\""), "{html}");
        assert!(
            html.contains("href=\"/analytics\""),
            "every user may be a member of a project: {html}"
        );
        assert!(!html.contains("href=\"/admin\""), "{html}");

        let html = render(Route::Home, || signed_in("", Role::Admin));
        assert!(
            html.contains("ada@example.com"),
            "no name: the email: {html}"
        );
        for path in ["/dashboard", "/analytics", "/admin"] {
            assert!(html.contains(&format!("href=\"{path}\"")), "{path}: {html}");
        }
    }

    #[test]
    fn a_section_the_role_does_not_open_says_so_instead_of_showing_it() {
        let html = render(Route::Admin, || signed_in("Ada", Role::User));
        assert!(html.contains("No access"), "{html}");
        assert!(!html.contains("id=\"admin-page\""), "{html}");
        let html = render(Route::Analytics, || signed_in("Ada", Role::User));
        assert!(!html.contains("No access"), "{html}");
        assert!(html.contains("id=\"analytics-page\""), "{html}");
    }
}
