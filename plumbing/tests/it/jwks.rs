//! The JWKS verifier against a real HTTP server serving auth's JWKS shape: the key set is
//! fetched again on a schedule, so a key removed from it is refused within the refresh interval
//! while the keys still listed keep verifying, and a failed fetch keeps the last good keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth::signing::SigningKeys;
use auth::tokens::TokenSettings;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{Jwks, Role};
use devstack::test::{ServiceHandle, spawn_service};
use plumbing::jwt::{AuthConfig, JwksVerifier, TokenError};

/// What the test's JWKS endpoint answers: the keys, or 503 when `None`, and how often it was
/// asked.
#[derive(Clone, Default)]
struct Served {
    jwks: Arc<Mutex<Option<Jwks>>>,
    fetches: Arc<AtomicUsize>,
}

impl Served {
    fn set(&self, jwks: Option<Jwks>) {
        *self.jwks.lock().expect("not poisoned") = jwks;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// `GET /.well-known/jwks.json` on a port of its own.
    fn serve(&self) -> anyhow::Result<ServiceHandle> {
        let router = axum::Router::new()
            .route("/.well-known/jwks.json", axum::routing::get(answer))
            .with_state(self.clone());
        spawn_service("jwks", move |listener, shutdown| async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await?;
            Ok(())
        })
    }
}

async fn answer(State(served): State<Served>) -> Response {
    served.fetches.fetch_add(1, Ordering::SeqCst);
    match served.jwks.lock().expect("not poisoned").clone() {
        Some(jwks) => axum::Json(jwks).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A token signed with the key of `seed`, valid for ten minutes.
fn token(seed: [u8; 32]) -> anyhow::Result<String> {
    let settings = TokenSettings {
        issuer: "event-analytics".to_owned(),
        audience: "event-analytics".to_owned(),
        access_ttl_secs: 600,
        refresh_ttl_secs: 0,
    };
    auth::tokens::issue_access(
        &SigningKeys::from_seeds(&[seed])?,
        &settings,
        uuid::Uuid::now_v7(),
        Role::Analyst,
    )
}

fn jwks(seeds: &[[u8; 32]]) -> anyhow::Result<Jwks> {
    Ok(SigningKeys::from_seeds(seeds)?.jwks().clone())
}

/// A verifier of the JWKS `server` serves, fetching it again every second.
fn verifier(server: &ServiceHandle) -> JwksVerifier {
    let mut config = AuthConfig::at(server.url(""));
    config.jwks_refresh_secs = 1;
    config.verifier()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_removed_from_the_jwks_is_refused_after_the_refresh_and_a_listed_key_keeps_working()
-> anyhow::Result<()> {
    let (retired, current) = ([1_u8; 32], [2_u8; 32]);
    let served = Served::default();
    served.set(Some(jwks(&[retired, current])?));
    let server = served.serve()?;
    let verifier = verifier(&server);
    let (retired_token, current_token) = (token(retired)?, token(current)?);
    verifier.verify(&retired_token).await?;
    verifier.verify(&current_token).await?;

    // The retired key leaves the JWKS. Its tokens, whose key id the verifier knows, cause no
    // fetch of their own: only the scheduled one can drop the key.
    served.set(Some(jwks(&[current])?));
    let removed = Instant::now();
    devstack::wait::until_async(
        "the removed key refused",
        Duration::from_secs(20),
        || async {
            matches!(
                verifier.verify(&retired_token).await,
                Err(TokenError::UnknownKey)
            )
        },
    )
    .await?;
    eprintln!(
        "a key removed from the JWKS was refused {:?} later (scheduled fetch every 1 s)",
        removed.elapsed()
    );
    let claims = verifier.verify(&current_token).await?;
    assert_eq!(claims.role, Role::Analyst, "the listed key still verifies");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_scheduled_fetch_keeps_the_keys_of_the_last_good_one() -> anyhow::Result<()> {
    let key = [3_u8; 32];
    let served = Served::default();
    served.set(Some(jwks(&[key])?));
    let server = served.serve()?;
    let verifier = verifier(&server);
    let token = token(key)?;
    verifier.verify(&token).await?;

    // Auth is down: the next two scheduled fetches get 503. The known key is never refetched
    // on demand, so every fetch counted here is a scheduled one.
    served.set(None);
    let before = served.fetches();
    devstack::wait::until_async(
        "two scheduled fetches refused",
        Duration::from_secs(20),
        || async { served.fetches() >= before + 2 },
    )
    .await?;
    verifier.verify(&token).await?;

    // Auth is back with the same key: nothing changed for its tokens.
    served.set(Some(jwks(&[key])?));
    let back = served.fetches();
    devstack::wait::until_async(
        "a scheduled fetch answered",
        Duration::from_secs(20),
        || async { served.fetches() > back },
    )
    .await?;
    verifier.verify(&token).await?;
    Ok(())
}
