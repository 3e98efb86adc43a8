//! `/api/auth/register`, `/api/auth/me` and `/api/auth/password`: the caller's own account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{ChangePasswordRequest, RegisterRequest, Role, UserView};
use plumbing::error::JsonBody;

use crate::error::{AccountDisabled, ApiError, BadInput, RateLimited, TooLarge, Unavailable};
use crate::extract::User;
use crate::state::AppState;
use crate::users;

#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "the account, with the role user", body = UserView),
        (status = 409, description = "this email is already registered", body = contract::ErrorBody),
        BadInput, TooLarge, RateLimited, Unavailable
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<Response, ApiError> {
    let name = request.name.unwrap_or_default();
    let user = users::register(&state, &request.email, request.password, &name, Role::User).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

#[utoipa::path(
    get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller", body = UserView),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        AccountDisabled, crate::error::NotFound, Unavailable
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    User(claims): User,
) -> Result<Json<UserView>, ApiError> {
    let user = users::by_id(&state, claims.sub)
        .await?
        .ok_or(ApiError::NotFound)?;
    if user.disabled {
        return Err(ApiError::Disabled);
    }
    Ok(Json(user.view()?))
}

#[utoipa::path(
    post, path = "/api/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "changed; every other session ended"),
        (status = 401, description = "no valid token, or the current password is wrong", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently", body = contract::ErrorBody),
        BadInput, TooLarge, RateLimited, Unavailable
    )
)]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    User(claims): User,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    users::change_password(
        &state,
        claims.sub,
        request.current_password,
        request.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
