//! Verifying access tokens, the same way in every service: EdDSA only, the key chosen by `kid`,
//! `iss`, `aud`, `exp`, `nbf`, `iat` and `sub` all required and checked. Services other than auth
//! get the keys from auth's JWKS, cached, refetched on an unknown `kid` at most once a second,
//! and refetched on a schedule so that a key auth no longer lists stops verifying.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Once, RwLock, Weak};
use std::time::{Duration, Instant};

use contract::auth::Claims;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Who issues tokens and for whom (`AUTH_ISSUER`, `AUTH_AUDIENCE`).
#[derive(Debug, Clone)]
pub struct Audience {
    pub issuer: String,
    pub audience: String,
}

/// Where the services other than auth find its keys, and what tokens must say.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Base URL of auth, for `/.well-known/jwks.json` (`AUTH_URL`, default `http://127.0.0.1:8002`).
    pub url: String,
    pub audience: Audience,
    /// Time between two scheduled fetches of the JWKS (`AUTH_JWKS_REFRESH_SECS`, default 300):
    /// a key removed from auth is refused at most this long (plus a fetch) afterwards.
    pub jwks_refresh_secs: u64,
}

/// Default of `AUTH_JWKS_REFRESH_SECS`: a removed key is refused within five minutes, for one
/// small request per service replica every five minutes.
const JWKS_REFRESH_SECS: u64 = 300;

impl AuthConfig {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let jwks_refresh_secs = crate::config::var_or("AUTH_JWKS_REFRESH_SECS", JWKS_REFRESH_SECS)?;
        if jwks_refresh_secs == 0 {
            return Err(crate::config::ConfigError {
                name: "AUTH_JWKS_REFRESH_SECS".to_owned(),
                problem: "must be at least 1 second".to_owned(),
            });
        }
        Ok(Self {
            url: crate::config::var_or("AUTH_URL", "http://127.0.0.1:8002".to_owned())?,
            audience: Audience {
                issuer: crate::config::var_or("AUTH_ISSUER", "event-analytics".to_owned())?,
                audience: crate::config::var_or("AUTH_AUDIENCE", "event-analytics".to_owned())?,
            },
            jwks_refresh_secs,
        })
    }

    /// Auth on `url` with the default issuer, audience and JWKS refresh interval.
    pub fn at(url: String) -> Self {
        Self {
            url,
            audience: Audience {
                issuer: "event-analytics".to_owned(),
                audience: "event-analytics".to_owned(),
            },
            jwks_refresh_secs: JWKS_REFRESH_SECS,
        }
    }

    /// A verifier of this auth's tokens.
    pub fn verifier(&self) -> JwksVerifier {
        JwksVerifier::new(
            format!("{}/.well-known/jwks.json", self.url.trim_end_matches('/')),
            self.audience.clone(),
            Duration::from_secs(self.jwks_refresh_secs.max(1)),
        )
    }
}

/// The claims of the request's `Authorization: Bearer` token when its role includes
/// `required`; otherwise the JSON error to answer: 401 without a valid token, 403 for a role
/// too low, 503 when auth's keys cannot be fetched. The same check in every service, so a call
/// that bypasses the edge gets nothing more.
pub async fn authorize(
    headers: &axum::http::HeaderMap,
    verifier: &JwksVerifier,
    required: contract::auth::Role,
) -> Result<Claims, axum::response::Response> {
    use axum::http::StatusCode;

    use crate::error::error_response;
    let unauthorized = || {
        error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    };
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let claims = verifier.verify(token.trim()).await.map_err(|err| {
        tracing::debug!(error = %err, "bearer token refused");
        match err {
            TokenError::KeysUnavailable(_) => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "cannot verify tokens right now",
            ),
            _ => unauthorized(),
        }
    })?;
    if !claims.role.includes(required) {
        return Err(error_response(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs the role {}", required.as_str()),
        ));
    }
    Ok(claims)
}

/// Why a bearer token was refused. The client only ever learns "401".
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("unknown key id")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

/// The key id of an EdDSA token, refusing every other algorithm before any key is looked at.
pub fn eddsa_kid(token: &str) -> Result<String, TokenError> {
    let header = jsonwebtoken::decode_header(token)?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenError::Malformed(format!("algorithm {:?}", header.alg)));
    }
    header
        .kid
        .ok_or_else(|| TokenError::Malformed("no kid".to_owned()))
}

/// Verifies `token` with `key` (found by its `kid`) and returns its claims.
pub fn verify(token: &str, key: &DecodingKey, audience: &Audience) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[audience.issuer.as_str()]);
    validation.set_audience(&[audience.audience.as_str()]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    validation.required_spec_claims = ["exp", "nbf", "iat", "iss", "aud", "sub"]
        .into_iter()
        .map(str::to_owned)
        .collect::<HashSet<_>>();
    Ok(jsonwebtoken::decode::<Claims>(token, key, &validation)?.claims)
}

/// The public keys of auth's `/.well-known/jwks.json`, fetched on demand and on a schedule.
/// The scheduled fetches end when the verifier is dropped.
#[derive(Debug)]
pub struct JwksVerifier {
    jwks: Arc<Jwks>,
    /// Starts the scheduled fetches on the first verification, which always runs inside the
    /// service's runtime (a verifier may be built before there is one).
    schedule: Once,
    refresh_every: Duration,
}

/// What the verifier and its scheduled fetches share.
#[derive(Debug)]
struct Jwks {
    url: String,
    audience: Audience,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// The last fetch that ended: when, and why it failed if it did. Locked for as long as a
    /// caller waits for its fetch slot and fetches, so fetches happen one at a time.
    last_fetch: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    /// Room for callers waiting on a fetch: tokens naming keys nobody knows (a flood of made-up
    /// `kid`s, say) park at most this many requests; the rest are refused at once.
    waiting: tokio::sync::Semaphore,
}

/// Shortest time between two JWKS fetches, so unknown `kid`s cannot hammer auth. A token whose
/// `kid` is unknown waits for the next fetch (at most this long, plus a fetch in progress) rather
/// than being refused: a key auth started signing with a moment after the last fetch is accepted
/// on its first use.
const REFETCH_EVERY: Duration = Duration::from_secs(1);

/// Most callers waiting for a JWKS fetch at once.
const MAX_WAITING: usize = 64;

impl JwksVerifier {
    /// A verifier of the tokens whose keys `jwks_url` lists, fetching the list again every
    /// `refresh_every` once it has verified its first token.
    pub fn new(jwks_url: String, audience: Audience, refresh_every: Duration) -> Self {
        Self {
            jwks: Arc::new(Jwks {
                url: jwks_url,
                audience,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(3))
                    .build()
                    .unwrap_or_default(),
                keys: RwLock::new(HashMap::new()),
                last_fetch: tokio::sync::Mutex::new(None),
                waiting: tokio::sync::Semaphore::new(MAX_WAITING),
            }),
            schedule: Once::new(),
            refresh_every,
        }
    }

    /// The claims of a valid token.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.schedule.call_once(|| {
            tokio::spawn(refresh_on_schedule(
                Arc::downgrade(&self.jwks),
                self.refresh_every,
            ));
        });
        let jwks = &self.jwks;
        let kid = eddsa_kid(token)?;
        if let Some(key) = jwks.key(&kid) {
            return verify(token, &key, &jwks.audience);
        }
        jwks.refresh(Instant::now()).await?;
        let key = jwks.key(&kid).ok_or(TokenError::UnknownKey)?;
        verify(token, &key, &jwks.audience)
    }
}

/// Fetches the JWKS every `every` for as long as its verifier lives, so a key auth stopped
/// listing (an old key retired after a rotation, a leaked one withdrawn) stops verifying here
/// too; nothing else would drop it, since only unknown `kid`s cause a fetch. A failed fetch keeps
/// the keys of the last good one: auth being down for a moment must not refuse every token.
async fn refresh_on_schedule(jwks: Weak<Jwks>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(jwks) = jwks.upgrade() else {
            return;
        };
        let mut last = jwks.last_fetch.lock().await;
        let outcome = jwks.fetch().await;
        if let Err(err) = &outcome {
            tracing::warn!(
                url = %jwks.url,
                error = %err,
                "scheduled JWKS fetch failed; the keys fetched last stay in use"
            );
        }
        *last = Some((Instant::now(), outcome));
    }
}

impl Jwks {
    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    /// Fetches the keys again for a `kid` found unknown at `asked_at`: one fetch at a time, at
    /// most one per `REFETCH_EVERY`. A caller queued behind a fetch that ended after it asked
    /// takes that fetch's keys, or its failure, instead of fetching again. A fetch given up
    /// half way (its caller went away) counts as none.
    async fn refresh(&self, asked_at: Instant) -> Result<(), TokenError> {
        let Ok(_waiting) = self.waiting.try_acquire() else {
            return Err(TokenError::UnknownKey);
        };
        let mut last = self.last_fetch.lock().await;
        if let Some((at, outcome)) = last.as_ref() {
            if *at >= asked_at {
                return outcome.clone().map_err(TokenError::KeysUnavailable);
            }
            tokio::time::sleep_until((*at + REFETCH_EVERY).into()).await;
        }
        let outcome = self.fetch().await;
        *last = Some((Instant::now(), outcome.clone()));
        outcome.map_err(TokenError::KeysUnavailable)
    }

    /// Fetches the JWKS and keeps its keys in place of those known so far: a key it no longer
    /// lists is dropped. A failed fetch changes nothing.
    async fn fetch(&self) -> Result<(), String> {
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| err.to_string())?
            .json()
            .await
            .map_err(|err| err.to_string())?;
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
                keys.insert(kid, key);
            }
        }
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
        Ok(())
    }
}
