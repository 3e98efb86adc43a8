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

/// Any signed-in caller: every analytics route, which then reads only a project the caller may
/// read (`crate::scope::may_read`: a member of it, or an instance admin) and answers 404 for any
/// other, as for one that does not exist. A refused caller counts as an `invalid` query.
#[derive(Debug)]
pub(crate) struct Caller(pub(crate) Claims);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        plumbing::jwt::authorize(&parts.headers, &state.tokens, Role::User)
            .await
            .map(Self)
            .inspect_err(|_| state.count("invalid"))
    }
}

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
