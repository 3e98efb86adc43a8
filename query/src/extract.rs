//! Who is calling: the caller's verified bearer token, by the role a route needs, as axum
//! extractors (as axum's `examples/jwt` does with `Claims`). A route names its caller in its
//! arguments instead of checking a role in its body; a refusal answers 401 without a valid
//! token, 403 for a role too low and 503 when auth's keys cannot be fetched, before anything
//! else of the request is read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use contract::auth::{Claims, Role};

use crate::state::AppState;

/// A caller whose role includes analyst: every analytics route. A refused caller counts as an
/// `invalid` query.
#[derive(Debug)]
pub(crate) struct Analyst(pub(crate) Claims);

impl FromRequestParts<AppState> for Analyst {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        plumbing::jwt::authorize(&parts.headers, &state.tokens, Role::Analyst)
            .await
            .map(Self)
            .inspect_err(|_| state.count("invalid"))
    }
}

/// A caller whose role includes admin: the pipeline figures, which read no project, and the
/// erasure and export of a tracked person, which name the admin who asked.
#[derive(Debug)]
pub(crate) struct Admin(pub(crate) Claims);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        plumbing::jwt::authorize(&parts.headers, &state.tokens, Role::Admin)
            .await
            .map(Self)
    }
}
