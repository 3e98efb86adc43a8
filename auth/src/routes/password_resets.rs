//! Password-reset links: `/api/admin/users/{id}/password-reset` for instance admins, and
//! `/api/auth/password-reset` for the person holding the link (signed out).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{PasswordResetLink, ResetPasswordRequest};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::error::{AdminRefusals, ApiError, BadInput, RateLimited, TooLarge, Unavailable};
use crate::extract::Admin;
use crate::password_resets;
use crate::state::AppState;

#[utoipa::path(
    post, path = "/api/admin/users/{id}/password-reset", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses(
        (status = 201, description = "a single-use link with which the user sets a new password, shown this once; it lasts 24 hours", body = PasswordResetLink),
        (status = 404, description = "no such user", body = contract::ErrorBody),
        (status = 409, description = "the account is disabled", body = contract::ErrorBody),
        BadInput, AdminRefusals, Unavailable
    )
)]
pub(crate) async fn issue_password_reset(
    State(state): State<AppState>,
    Admin(by): Admin,
    PathParams(user_id): PathParams<Uuid>,
) -> Result<Response, ApiError> {
    let link = password_resets::issue(&state, by, user_id).await?;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

#[utoipa::path(
    post, path = "/api/auth/password-reset", tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "the password is set and the link spent; every session of the account ended"),
        (status = 403, description = "the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "the link was used, has expired or never existed", body = contract::ErrorBody),
        BadInput, TooLarge, RateLimited, Unavailable
    )
)]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    password_resets::reset(&state, request).await?;
    Ok(StatusCode::NO_CONTENT)
}
