//! Who is calling: the caller's verified bearer token, by the role a route needs, as axum
//! extractors (as axum's `examples/jwt` does with `Claims`). A route names its caller in its
//! arguments instead of checking a role in its body; a refusal answers 401 without a valid
//! token, 403 for a role too low and 503 when auth's keys cannot be fetched, before anything
//! else of the request is read.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use contract::auth::{API_KEY_PREFIX, Role};
use plumbing::error::error_response;

use crate::access::{Via, Who};
use crate::state::AppState;

/// Any signed-in caller, or an API key: every analytics route, which then reads only a project
/// the caller may read (`crate::access::may_read`: a member of it, or an instance admin) and
/// answers 404 for any other, as for one that does not exist. A refused caller counts as an
/// `invalid` query.
#[derive(Debug)]
pub(crate) struct Caller(pub(crate) Who);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(Ran(who)) = parts.extensions.get::<Ran>() {
            return Ok(Self(who.clone()));
        }
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| token.starts_with(API_KEY_PREFIX));
        let who = match bearer {
            // Keys are revoked on the stream: with no current view of it, none is taken.
            Some(_) if !state.projects.is_following() => Err(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "API keys cannot be checked right now; retry in a moment",
            )),
            Some(key) => api_key(state, key).ok_or_else(|| {
                error_response(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this API key is not valid (unknown, revoked or expired)",
                )
            }),
            None => plumbing::jwt::authorize(&parts.headers, &state.tokens, Role::User)
                .await
                .map(|claims| Who::token(&claims)),
        };
        who.map(Self).inspect_err(|_| state.count("invalid"))
    }
}

/// The caller an API key stands for: its owner, read-only, while the key lives; `None` for a
/// key unknown, revoked or expired (one answer for all, so a guess learns nothing).
fn api_key(state: &AppState, key: &str) -> Option<Who> {
    let now = jiff::Timestamp::now().as_second();
    let key_hash = plumbing::projects::secret_hash(key);
    let grant = state
        .projects
        .api_key_by_hash(&key_hash)
        .filter(|grant| grant.expires_at.is_none_or(|at| now < at))?;
    state.key_usage.record(&state.nats, grant.key_id);
    Some(Who {
        user: grant.user_id,
        role: Role::User,
        expires: grant.expires_at.unwrap_or(i64::MAX),
        via: Via::ApiKey { key_hash },
    })
}

/// The caller of a saved insight that query runs itself (a dashboard tile, a shared link's
/// tile): set on the request by the route that builds the call, never by a client (a request's
/// extensions are the server's own), and taken by [`Caller`] before any header.
#[derive(Debug, Clone)]
pub(crate) struct Ran(pub(crate) Who);

/// An instance admin: the pipeline figures, which read no project.
#[derive(Debug)]
pub(crate) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        plumbing::jwt::authorize(&parts.headers, &state.tokens, Role::Admin)
            .await
            .map(|_| Self)
    }
}
