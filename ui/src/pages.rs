//! The pages every visitor meets: sign-in and registration forms, home, "no access" and "not
//! found". The sections live in their own modules.

use contract::auth::{LoginRequest, RegisterRequest, Role, UserView};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::api::{self, Action};
use crate::invite::invite_note;
use crate::route::{Link, Route};
use crate::session::Session;

/// How the app names a user: their name, or their email when they gave none.
pub(crate) fn display_name(user: &UserView) -> String {
    let name = user.name.trim();
    if name.is_empty() {
        user.email.clone()
    } else {
        name.to_owned()
    }
}

pub(crate) fn role_label(role: Role) -> &'static str {
    match role {
        Role::User => "User",
        Role::Analyst => "Analyst",
        Role::Admin => "Admin",
    }
}

/// The sections of the app, in the order the navigation shows them, with what each will hold.
pub(crate) const SECTIONS: [(Route, &str, &str); 4] = [
    (
        Route::Dashboard,
        "Dashboard",
        "The demo shop: every click, view and step is tracked.",
    ),
    (
        Route::Analytics,
        "Analytics",
        "Trends, breakdowns, funnels, retention and the live event feed.",
    ),
    (
        Route::Dashboards,
        "Dashboards",
        "Saved insights on dashboards, and links that share them read-only.",
    ),
    (
        Route::Admin,
        "Admin",
        "Users, projects with their members, and write keys.",
    ),
];

/// The state every form shares: a request running, and the error of the last one.
#[derive(Debug, Clone, Copy)]
struct FormState {
    busy: Signal<bool>,
    error: Signal<Option<String>>,
}

impl FormState {
    fn new() -> Self {
        Self {
            busy: create_signal(false),
            error: create_signal(None),
        }
    }

    /// Runs `request` unless one is running already; shows its error as `action` explains it.
    /// On success the session changes and the page is replaced, so nothing is left to show.
    fn submit<Fut>(self, action: Action, request: Fut)
    where
        Fut: std::future::Future<Output = Result<(), api::ApiError>> + 'static,
    {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        spawn_local(async move {
            let outcome = request.await;
            // The page is gone when the request signed someone in.
            if self.busy.is_alive() {
                self.busy.set(false);
                if let Err(err) = outcome {
                    self.error.set(Some(api::explain(&err, action)));
                }
            }
        });
    }

    /// The error line, announced to screen readers as it appears.
    fn error_view(self, id: &'static str) -> View {
        view! {
            (move || self.error.get_clone().map(|message| view! {
                p(id=id, class="form-error", role="alert") { (message) }
            }))
        }
    }
}

#[component]
pub(crate) fn LoginPage() -> View {
    let session = use_context::<Session>();
    let email = create_signal(String::new());
    let password = create_signal(String::new());
    let form = FormState::new();
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let request = LoginRequest {
            email: email.get_clone_untracked().trim().to_owned(),
            password: password.get_clone_untracked(),
        };
        form.submit(
            Action::SignIn,
            async move { session.sign_in(&request).await },
        );
    };
    view! {
        section(class="card auth-card", aria-labelledby="page-title") {
            h2(id="page-title") { "Sign in" }
            (invite_note())
            (move || session.notice().map(|notice| view! {
                p(id="session-notice", class="notice", role="status") { (notice) }
            }))
            form(id="login-form", on:submit=submit, aria-busy=move || form.busy.get().to_string()) {
                div(class="field") {
                    label(r#for="login-email") { "Email" }
                    input(id="login-email", name="email", r#type="email", autocomplete="username",
                        required=true, bind:value=email)
                }
                div(class="field") {
                    label(r#for="login-password") { "Password" }
                    input(id="login-password", name="password", r#type="password",
                        autocomplete="current-password", required=true, bind:value=password)
                }
                (form.error_view("login-error"))
                button(id="login-submit", r#type="submit", class="primary", disabled=form.busy) {
                    (move || if form.busy.get() { "Signing in…" } else { "Sign in" })
                }
            }
            p(class="switch") {
                "New here? "
                Link(to=Route::Register, id="to-register") { "Create an account" }
            }
        }
    }
}

#[component]
pub(crate) fn RegisterPage() -> View {
    let session = use_context::<Session>();
    let name = create_signal(String::new());
    let email = create_signal(String::new());
    let password = create_signal(String::new());
    let form = FormState::new();
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let name = name.get_clone_untracked().trim().to_owned();
        let request = RegisterRequest {
            email: email.get_clone_untracked().trim().to_owned(),
            password: password.get_clone_untracked(),
            name: (!name.is_empty()).then_some(name),
        };
        form.submit(
            Action::Register,
            async move { session.register(&request).await },
        );
    };
    view! {
        section(class="card auth-card", aria-labelledby="page-title") {
            h2(id="page-title") { "Create an account" }
            (invite_note())
            form(id="register-form", on:submit=submit, aria-busy=move || form.busy.get().to_string()) {
                div(class="field") {
                    label(r#for="register-name") { "Name " span(class="optional") { "(optional)" } }
                    input(id="register-name", name="name", r#type="text", autocomplete="name",
                        maxlength="100", bind:value=name)
                }
                div(class="field") {
                    label(r#for="register-email") { "Email" }
                    input(id="register-email", name="email", r#type="email", autocomplete="username",
                        required=true, bind:value=email)
                }
                div(class="field") {
                    label(r#for="register-password") { "Password" }
                    input(id="register-password", name="password", r#type="password",
                        autocomplete="new-password", minlength="10", maxlength="128",
                        required=true, aria-describedby="register-password-hint", bind:value=password)
                    p(id="register-password-hint", class="hint") { "10 to 128 characters." }
                }
                (form.error_view("register-error"))
                button(id="register-submit", r#type="submit", class="primary", disabled=form.busy) {
                    (move || if form.busy.get() { "Creating your account…" } else { "Create account" })
                }
            }
            p(class="switch") {
                "Already registered? "
                Link(to=Route::Login, id="to-login") { "Sign in" }
            }
        }
    }
}

/// Home of a signed-in user: who they are and the sections their role opens.
#[component]
pub(crate) fn HomePage() -> View {
    let session = use_context::<Session>();
    // Ask auth who this is now: a role an admin changed shows without signing in again, and
    // an expired access token is refreshed on the way.
    on_mount(move || {
        spawn_local(async move {
            if let Ok(user) = session
                .authorized(|token| async move { api::me(&token).await })
                .await
            {
                session.update_user(user);
            }
        });
    });
    view! {
        (move || session.user().map(|user| {
            let role = user.role;
            let name = display_name(&user);
            let email = user.email;
            let sections = SECTIONS
                .iter()
                .filter(|(route, _, _)| role.includes(route.required_role()))
                .map(|&(route, title, about)| view! {
                    li(class="card section-card") {
                        h3 { Link(to=route) { (title) } }
                        p { (about) }
                        p(class="coming") { "Coming soon." }
                    }
                })
                .collect::<Vec<_>>();
            view! {
                section(aria-labelledby="page-title") {
                    h2(id="page-title") { "Welcome, " (name) }
                    p(id="account-summary") {
                        "You are signed in as " strong { (email) }
                        " with the role " strong { (role.as_str()) } "."
                    }
                    ul(class="sections") { (sections) }
                }
            }
        }))
    }
}

/// A section of the app behind a role: `page` for a user whose role opens it, a "No access"
/// page for anyone else (the API refuses them too). A role changed meanwhile switches between
/// the two.
pub(crate) fn restricted(route: Route, page: fn() -> View) -> View {
    let session = use_context::<Session>();
    let title = SECTIONS
        .iter()
        .find(|(r, _, _)| *r == route)
        .map_or("This section", |&(_, title, _)| title);
    let allowed = create_selector(move || {
        session
            .user()
            .is_some_and(|user| user.role.includes(route.required_role()))
    });
    view! {
        (move || if allowed.get() {
            page()
        } else {
            let role = session.user().map_or("none", |user| user.role.as_str());
            view! {
                section(class="card", aria-labelledby="page-title") {
                    h2(id="page-title") { "No access" }
                    p(id="section-status") {
                        (format!(
                            "{title} needs the role {} or higher; yours is {role}. An admin can change it.",
                            route.required_role().as_str(),
                        ))
                    }
                    p { Link(to=Route::Home, id="back-home") { "Back to home" } }
                }
            }
        })
    }
}

#[component]
pub(crate) fn NotFoundPage() -> View {
    view! {
        section(class="card", aria-labelledby="page-title") {
            h2(id="page-title") { "Page not found" }
            p { "There is no page at this address." }
            p { Link(to=Route::Home, id="back-home") { "Go to home" } }
        }
    }
}
