//! The page a password-reset link opens, `/reset/<token>`: whoever holds it, signed in or not,
//! types a new password twice and sets it; the link then works no more. It says so when it was
//! used, has expired or never existed, and points to the sign-in form once the password is set.

use contract::auth::ResetPasswordRequest;
use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::api::{self, Action};
use crate::route::{Link, Route, location_path, reset_token};

/// The password lengths auth accepts, in characters (auth's `passwords::LENGTH`).
const LENGTH: std::ops::RangeInclusive<usize> = 10..=128;

/// What auth says of a link it no longer takes, when it cannot be asked.
const NO_LONGER_VALID: &str = "This reset link is no longer valid";

/// Where setting the password stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Typing,
    Done,
    /// The link is spent, expired or unknown: why, in words.
    Gone(String),
}

/// The two passwords typed, when they may be sent: the same, of a length auth takes.
fn check(password: &str, again: &str) -> Result<(), String> {
    if !LENGTH.contains(&password.chars().count()) {
        return Err(format!(
            "The password must be {} to {} characters",
            LENGTH.start(),
            LENGTH.end()
        ));
    }
    if password != again {
        return Err("The two passwords differ: type the same one twice".to_owned());
    }
    Ok(())
}

#[component]
pub(crate) fn ResetPage() -> View {
    let token = reset_token(&location_path());
    let outcome = create_signal(match token {
        Some(_) => Outcome::Typing,
        None => Outcome::Gone(NO_LONGER_VALID.to_owned()),
    });
    view! {
        section(class="card auth-card reset-card", aria-labelledby="page-title") {
            h2(id="page-title") { "Set a new password" }
            (move || match outcome.get_clone() {
                Outcome::Typing => {
                    let token = token.clone().unwrap_or_default();
                    view! { ResetForm(token=token, outcome=outcome) }
                }
                Outcome::Done => view! {
                    div(id="reset-done", role="status") {
                        p { "Your new password is set, and every earlier session of the account has ended." }
                        p { Link(to=Route::Login, id="reset-to-sign-in") { "Sign in with it" } }
                    }
                },
                Outcome::Gone(message) => view! {
                    div(id="reset-error", role="alert") {
                        p(class="form-error") { (message) }
                        p(class="hint") { "Ask an admin for a new link." }
                        p { Link(to=Route::Home, id="back-home") { "Go to home" } }
                    }
                },
            })
        }
    }
}

/// The new password twice; sent, it ends the page's typing one way or the other unless auth
/// refuses the password itself (or is busy), which shows under the form.
#[component(inline_props)]
fn ResetForm(token: String, outcome: Signal<Outcome>) -> View {
    let password = create_signal(String::new());
    let again = create_signal(String::new());
    let busy = create_signal(false);
    let error: Signal<Option<String>> = create_signal(None);
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let typed = password.get_clone_untracked();
        if let Err(message) = check(&typed, &again.get_clone_untracked()) {
            error.set(Some(message));
            return;
        }
        let request = ResetPasswordRequest {
            token: token.clone(),
            password: typed,
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let answer = api::reset_password(&request).await;
            if !busy.is_alive() {
                return;
            }
            busy.set(false);
            match answer {
                Ok(()) => outcome.set(Outcome::Done),
                Err(err) if err.status() == Some(404) => {
                    outcome.set(Outcome::Gone(api::explain(&err, Action::Work)));
                }
                Err(err) => error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    };
    view! {
        form(id="reset-form", on:submit=submit, aria-busy=move || busy.get().to_string()) {
            div(class="field") {
                label(r#for="reset-password") { "New password" }
                input(id="reset-password", name="password", r#type="password",
                    autocomplete="new-password", minlength="10", maxlength="128", required=true,
                    aria-describedby="reset-password-hint", bind:value=password)
                p(id="reset-password-hint", class="hint") { "10 to 128 characters." }
            }
            div(class="field") {
                label(r#for="reset-again") { "The new password again" }
                input(id="reset-again", name="again", r#type="password",
                    autocomplete="new-password", required=true, bind:value=again)
            }
            (move || error.get_clone().map(|message| view! {
                p(id="reset-form-error", class="form-error", role="alert") { (message) }
            }))
            button(id="reset-submit", r#type="submit", class="primary", disabled=busy) {
                (move || if busy.get() { "Setting the password…" } else { "Set the password" })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_typed_twice_alike_and_of_a_length_auth_takes() {
        assert_eq!(check("long enough!", "long enough!"), Ok(()));
        assert!(check("short", "short").is_err_and(|e| e.contains("10 to 128")));
        let longest = "é".repeat(128);
        assert_eq!(check(&longest, &longest), Ok(()), "characters, not bytes");
        assert!(check(&"x".repeat(129), &"x".repeat(129)).is_err());
        assert!(check("long enough!", "long enough?").is_err_and(|e| e.contains("differ")));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_form_has_two_labelled_password_fields_and_needs_no_sign_in() {
        use crate::session::{Auth, Session};

        let html = sycamore::web::render_to_string(|| {
            let outcome = create_signal(Outcome::Typing);
            view! { ResetForm(token="t".to_owned(), outcome=outcome) }
        });
        for id in ["reset-password", "reset-again"] {
            assert!(html.contains(&format!("for=\"{id}\"")), "{id}: {html}");
        }
        assert!(html.contains("id=\"reset-submit\""), "{html}");
        // Outside a browser the address holds no token: the page says the link is no good.
        let html = sycamore::web::render_to_string(|| {
            crate::shell(Route::Reset, Session::new(Auth::SignedOut))
        });
        assert!(html.contains("Set a new password"), "{html}");
        assert!(html.contains(NO_LONGER_VALID), "{html}");
        assert!(!html.contains("id=\"login-submit\""), "{html}");
    }
}
