//! Who is signed in. The access token lives only here, in memory: never in localStorage or
//! sessionStorage, where any script could read it. The session itself survives a reload in the
//! httpOnly refresh cookie, which the app trades for a new access token at start, shortly
//! before the token expires, and when a call answers 401.

use std::future::Future;

use contract::auth::{LoginRequest, RegisterRequest, TokenResponse, UserView};
use js_sys::futures::{JsFuture, spawn_local};
use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::api::{self, ApiError};

/// Whether someone is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The app has not heard yet whether the refresh cookie holds a session.
    Checking,
    SignedOut,
    SignedIn(SignedIn),
}

/// Whether someone is signed in, without who: what decides the page to show, and which does
/// not change when a token is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Checking,
    SignedOut,
    SignedIn,
}

/// The signed-in user and their current access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedIn {
    pub(crate) user: UserView,
    access_token: String,
}

impl SignedIn {
    pub(crate) fn new(user: UserView, access_token: String) -> Self {
        Self { user, access_token }
    }
}

/// When to ask for the next access token: shortly before this one expires (a fifth of its
/// lifetime, between 1 s and a minute, early), and never sooner than in a second.
fn refresh_due_secs(expires_in_secs: u64) -> u64 {
    let lead = (expires_in_secs / 5).clamp(1, 60);
    expires_in_secs.saturating_sub(lead).max(1)
}

/// How long to wait before trying again when a scheduled refresh could not reach auth.
const RETRY_REFRESH_SECS: u64 = 15;

/// Refreshes in flight and scheduled. A rotated refresh token must never be presented twice (auth
/// ends the whole session when it sees one come back), so only one refresh runs at a time and
/// every caller meanwhile waits for its outcome.
#[derive(Debug, Default)]
struct Refreshing {
    in_flight: bool,
    /// `resolve` functions of the callers waiting for the refresh in flight.
    waiters: Vec<js_sys::Function>,
    /// Bumped on every schedule and sign-out, so a timer set earlier knows it is stale.
    timer: u64,
}

/// The session, shared through the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    auth: Signal<Auth>,
    /// Derived from `auth`, notifying only on a change: a refreshed token re-renders nothing.
    phase: ReadSignal<Phase>,
    user: ReadSignal<Option<UserView>>,
    /// Why the session could not be restored, when it was more than "there is none".
    notice: Signal<Option<String>>,
    refreshing: Signal<Refreshing>,
}

impl Session {
    pub(crate) fn new(auth: Auth) -> Self {
        let auth = create_signal(auth);
        Self {
            auth,
            phase: create_selector(move || {
                auth.with(|auth| match auth {
                    Auth::Checking => Phase::Checking,
                    Auth::SignedOut => Phase::SignedOut,
                    Auth::SignedIn(_) => Phase::SignedIn,
                })
            }),
            user: create_selector(move || {
                auth.with(|auth| match auth {
                    Auth::SignedIn(signed_in) => Some(signed_in.user.clone()),
                    _ => None,
                })
            }),
            notice: create_signal(None),
            refreshing: create_signal(Refreshing::default()),
        }
    }

    /// Whether someone is signed in (tracked).
    pub(crate) fn phase(self) -> Phase {
        self.phase.get()
    }

    /// The signed-in user (tracked).
    pub(crate) fn user(self) -> Option<UserView> {
        self.user.get_clone()
    }

    /// A message about the last attempt to restore the session (tracked).
    pub(crate) fn notice(self) -> Option<String> {
        self.notice.get_clone()
    }

    /// The current access token, untracked (for calls the app makes on its own).
    pub(crate) fn token(self) -> Option<String> {
        self.auth.with_untracked(|auth| match auth {
            Auth::SignedIn(signed_in) => Some(signed_in.access_token.clone()),
            _ => None,
        })
    }

    /// At start: whoever holds a valid refresh cookie is signed in again, so a reload keeps
    /// the session.
    pub(crate) fn restore(self) {
        spawn_local(async move {
            self.refresh().await;
        });
    }

    /// The user as auth knows them now (a role an admin changed, say).
    pub(crate) fn update_user(self, user: UserView) {
        let changed = self.auth.with_untracked(
            |auth| matches!(auth, Auth::SignedIn(s) if s.user.id == user.id && s.user != user),
        );
        if changed {
            self.auth.update(|auth| {
                if let Auth::SignedIn(signed_in) = auth {
                    signed_in.user = user;
                }
            });
        }
    }

    pub(crate) async fn sign_in(self, request: &LoginRequest) -> Result<(), ApiError> {
        let tokens = api::login(request).await?;
        self.accept(tokens);
        Ok(())
    }

    /// Registers, then signs in with the same credentials.
    pub(crate) async fn register(self, request: &RegisterRequest) -> Result<(), ApiError> {
        api::register(request).await?;
        self.sign_in(&LoginRequest {
            email: request.email.clone(),
            password: request.password.clone(),
        })
        .await
    }

    /// Ends the session at auth (clearing the cookie) and here, whatever auth answers: a person
    /// who asked to sign out is signed out of this page at least.
    pub(crate) async fn sign_out(self) {
        self.refreshing.update_silent(|r| r.timer += 1);
        // A refresh answering after the logout would sign this page in again, and present a
        // cookie the logout is about to end: let it finish first.
        if self.refreshing.with_untracked(|r| r.in_flight) {
            self.refresh().await;
        }
        let _ = api::logout().await;
        self.auth.set(Auth::SignedOut);
    }

    /// Runs `call` with the access token; when it answers 401 (the token expired, say), trades
    /// the refresh cookie for a new token once and runs it again.
    pub(crate) async fn authorized<T, F, Fut>(self, call: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let signed_out = || ApiError::Refused {
            status: 401,
            code: "unauthorized".to_owned(),
            message: "you are signed out".to_owned(),
            retry_after_secs: None,
        };
        let token = self.token().ok_or_else(signed_out)?;
        match call(token).await {
            Err(err) if err.is_unauthorized() => {
                if self.refresh().await {
                    call(self.token().ok_or_else(signed_out)?).await
                } else {
                    Err(err)
                }
            }
            other => other,
        }
    }

    /// Trades the refresh cookie for a new access token; whether the session goes on.
    pub(crate) async fn refresh(self) -> bool {
        let in_flight = self.refreshing.with_untracked(|r| r.in_flight);
        if in_flight {
            let mut waiters = Vec::new();
            let promise = js_sys::Promise::new(&mut |resolve, _reject| waiters.push(resolve));
            self.refreshing
                .update_silent(|r| r.waiters.append(&mut waiters));
            return JsFuture::from(promise)
                .await
                .ok()
                .and_then(|value| value.as_bool())
                .unwrap_or(false);
        }
        self.refreshing.update_silent(|r| r.in_flight = true);
        let goes_on = match api::refresh().await {
            Ok(tokens) => {
                self.accept(tokens);
                true
            }
            Err(err) if err.is_unauthorized() || err.status() == Some(403) => {
                // No session, an expired or revoked one, or a disabled account.
                self.auth.set(Auth::SignedOut);
                false
            }
            Err(err) => {
                if self.auth.with_untracked(|auth| *auth == Auth::Checking) {
                    self.notice.set(Some(format!(
                        "Could not restore your session: {}",
                        api::explain(&err, api::Action::SignIn)
                    )));
                    self.auth.set(Auth::SignedOut);
                    false
                } else {
                    // Auth is down for a moment: the access token may still be good, and the
                    // session certainly is, so try again soon.
                    self.schedule_refresh(RETRY_REFRESH_SECS);
                    self.token().is_some()
                }
            }
        };
        let waiters = self.refreshing.update_silent(|r| {
            r.in_flight = false;
            std::mem::take(&mut r.waiters)
        });
        for resolve in waiters {
            let _ = resolve.call1(
                &wasm_bindgen::JsValue::NULL,
                &wasm_bindgen::JsValue::from_bool(goes_on),
            );
        }
        goes_on
    }

    /// Signed in with `tokens`; the next refresh is due shortly before they expire.
    fn accept(self, tokens: TokenResponse) {
        self.notice.set(None);
        self.auth.set(Auth::SignedIn(SignedIn::new(
            tokens.user,
            tokens.access_token,
        )));
        self.schedule_refresh(refresh_due_secs(tokens.expires_in));
    }

    fn schedule_refresh(self, after_secs: u64) {
        let timer = self.refreshing.update_silent(|r| {
            r.timer += 1;
            r.timer
        });
        let Some(window) = web_sys::window() else {
            return;
        };
        let due = wasm_bindgen::closure::Closure::once_into_js(move || {
            let current = self.refreshing.with_untracked(|r| r.timer) == timer;
            if current && self.token().is_some() {
                spawn_local(async move {
                    self.refresh().await;
                });
            }
        });
        let delay_ms = i32::try_from(after_secs.saturating_mul(1000)).unwrap_or(i32::MAX);
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(due.unchecked_ref(), delay_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_token_is_asked_for_shortly_before_the_last_one_expires() {
        assert_eq!(refresh_due_secs(900), 840);
        assert_eq!(refresh_due_secs(4), 3);
        assert_eq!(refresh_due_secs(1), 1);
    }
}
