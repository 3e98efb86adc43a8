//! `/api/auth/api-keys`: the caller's own read-only keys for the query API.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{ApiKeyList, CreateApiKeyRequest, CreatedApiKey};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::api_keys;
use crate::error::{AccountDisabled, ApiError, BadInput, Conflict, TooLarge, Unavailable};
use crate::extract::User;
use crate::state::AppState;

#[utoipa::path(
    post, path = "/api/auth/api-keys", tag = "auth", security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "the key, shown this once, and its description", body = CreatedApiKey),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 404, description = "a listed project the caller is no member of, or none such", body = contract::ErrorBody),
        BadInput, AccountDisabled, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    User(caller): User,
    JsonBody(request): JsonBody<CreateApiKeyRequest>,
) -> Result<Response, ApiError> {
    let created = api_keys::create(&state, caller.sub, &request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    get, path = "/api/auth/api-keys", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller's keys not revoked, newest first (never the key itself)", body = ApiKeyList),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        Unavailable
    )
)]
pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    User(caller): User,
) -> Result<Json<ApiKeyList>, ApiError> {
    Ok(Json(api_keys::list(&state, caller.sub).await?))
}

#[utoipa::path(
    delete, path = "/api/auth/api-keys/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the key's id")),
    responses(
        (status = 204, description = "the key no longer works (also when it was already revoked)"),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 404, description = "no key of the caller's with this id", body = contract::ErrorBody),
        BadInput, Conflict, Unavailable
    )
)]
pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(key_id): PathParams<Uuid>,
) -> Result<StatusCode, ApiError> {
    api_keys::revoke(&state, caller.sub, key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
