//! `/api/admin/projects/{id}/audit`: a project's history, for its admins (and instance admins).

use axum::Json;
use axum::extract::State;
use contract::auth::{AuditPage, ProjectRole};
use plumbing::error::{PathParams, QueryParams};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, BadInput, ProjectAdminRefusals, Unavailable};
use crate::extract::User;
use crate::state::AppState;
use crate::{history, members};

/// The query of `GET /api/admin/projects/{id}/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only changes older than this sequence: the previous page's `next_before`.
    #[serde(default)]
    before: Option<u64>,
    /// Changes on the page, 1 to 200 (default 50).
    #[serde(default)]
    limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/api/admin/projects/{id}/audit", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), AuditQuery),
    responses(
        (status = 200, description = "the project's changes, newest first: who did what, in words, never a secret", body = AuditPage),
        BadInput, ProjectAdminRefusals, Unavailable
    )
)]
pub(crate) async fn project_audit(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    Ok(Json(
        history::page(&state, project_id, query.before, query.limit).await?,
    ))
}
