//! Who is calling: extractors over the `Authorization: Bearer` access token, as axum's JWT
//! example does with its `Claims`. A handler names the caller it needs in its arguments
//! instead of checking a role in its body.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use contract::auth::{Claims, Role};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{tokens, users};

/// Any caller with a valid access token: its verified claims.
#[derive(Debug)]
pub(crate) struct User(pub(crate) Claims);

/// A caller whose role, read from the projection, is admin: their id.
#[derive(Debug)]
pub(crate) struct Admin(pub(crate) Uuid);

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        tokens::verify_access(&state.keys, &state.tokens, token.trim())
            .map(User)
            .map_err(|err| {
                tracing::debug!(error = %err, "bearer token refused");
                ApiError::Unauthorized
            })
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let User(claims) = User::from_request_parts(parts, state).await?;
        users::with_role(state, claims.sub, Role::Admin)
            .await
            .map(Admin)
    }
}
