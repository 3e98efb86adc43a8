//! What a handler takes from a request besides its body: the signed-in [`User`] of
//! `POST /api/events`, verified as axum's JWT example verifies its `Claims`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use contract::auth::{Claims, Role};

use crate::state::AppState;

/// A dashboard user with a valid bearer token. Without one the request is answered 401, and
/// 503 when auth's keys cannot be fetched, before its body is read.
#[derive(Debug)]
pub(crate) struct User(pub(crate) Claims);

impl FromRequestParts<Arc<AppState>> for User {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        plumbing::jwt::authorize(&parts.headers, &state.tokens, Role::User)
            .await
            .map(User)
    }
}
