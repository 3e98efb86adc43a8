//! `/api/admin/users`: the admin's view of users (list, change, erase).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use contract::auth::{AdminUserView, UpdateUserRequest, UserPage};
use plumbing::error::{JsonBody, PathParams, QueryParams};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{AdminRefusals, ApiError, BadInput, Conflict, NotFound, TooLarge, Unavailable};
use crate::extract::Admin;
use crate::state::AppState;
use crate::user_admin;

/// The query of `GET /api/admin/users`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    q: Option<String>,
}

#[utoipa::path(
    get, path = "/api/admin/users", tag = "admin", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of users, newest first", body = UserPage),
        BadInput, AdminRefusals, Unavailable
    )
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    _: Admin,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<UserPage>, ApiError> {
    Ok(Json(user_admin::list(&state, query.page, query.q).await?))
}

#[utoipa::path(
    patch, path = "/api/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "the user as changed", body = AdminUserView),
        BadInput, AdminRefusals, NotFound, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    Admin(by): Admin,
    PathParams(id): PathParams<Uuid>,
    JsonBody(request): JsonBody<UpdateUserRequest>,
) -> Result<Json<AdminUserView>, ApiError> {
    Ok(Json(
        user_admin::update(&state, id, Some(by), request).await?,
    ))
}

/// Erasure: the messages that carried the user's personal data are erased from the stream, a
/// tombstone is recorded, and the projection forgets the user; a rebuild shows no trace.
#[utoipa::path(
    delete, path = "/api/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses(
        (status = 204, description = "the user is deleted and their personal data erased"),
        BadInput, AdminRefusals, NotFound, Conflict, Unavailable
    )
)]
pub(crate) async fn erase_user(
    State(state): State<AppState>,
    Admin(by): Admin,
    PathParams(id): PathParams<Uuid>,
) -> Result<StatusCode, ApiError> {
    user_admin::erase(&state, id, Some(by)).await?;
    Ok(StatusCode::NO_CONTENT)
}
