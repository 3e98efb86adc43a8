//! Dashboards: named, ordered lists of a project's insights. Each is a subject of its own on
//! the stream (`auth.project.<project>.dashboard.<id>`), written whole (renaming, reordering,
//! adding and removing tiles are all one save) expecting the last sequence read there. An
//! insight deleted after it was put on a dashboard is left out when the dashboard is read.

use contract::auth::{
    AuthEvent, DashboardList, DashboardRequest, DashboardView, MAX_TILES, dashboard_subject,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::insights::checked_name;
use crate::state::AppState;

/// Dashboards a project may have.
pub(crate) const MAX_DASHBOARDS: i64 = 200;

/// One row of `dashboards` (its tiles still there), with its last writer's email.
type Row = (
    Uuid,
    Uuid,
    String,
    Vec<Uuid>,
    Option<String>,
    OffsetDateTime,
    i64,
);

/// The columns of [`Row`]: the tiles in order, those whose insight is gone left out.
macro_rules! select {
    () => {
        "SELECT d.id, d.project_id, d.name,
           ARRAY(SELECT t.id FROM unnest(d.insight_ids) WITH ORDINALITY AS t(id, n)
                 JOIN insights i ON i.id = t.id AND i.project_id = d.project_id
                 ORDER BY t.n),
           u.email, d.updated_at, d.version
         FROM dashboards d LEFT JOIN users u ON u.id = d.updated_by"
    };
}

fn view(row: Row) -> (DashboardView, u64) {
    let (id, project_id, name, insight_ids, updated_by, updated_at, version) = row;
    (
        DashboardView {
            id,
            project_id,
            name,
            insight_ids,
            updated_by: updated_by.unwrap_or_default(),
            updated_at,
        },
        u64::try_from(version).unwrap_or(0),
    )
}

/// The dashboards of `project_id`, by name.
pub(crate) async fn list(state: &AppState, project_id: Uuid) -> Result<DashboardList, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select!(),
        " WHERE d.project_id = $1 ORDER BY lower(d.name), d.name, d.id"
    ))
    .bind(project_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(DashboardList {
        dashboards: rows.into_iter().map(|row| view(row).0).collect(),
    })
}

/// The dashboard `dashboard_id` of `project_id` and its version; 404 when there is none.
pub(crate) async fn find(
    state: &AppState,
    project_id: Uuid,
    dashboard_id: Uuid,
) -> Result<(DashboardView, u64), ApiError> {
    let row: Option<Row> =
        sqlx::query_as(concat!(select!(), " WHERE d.project_id = $1 AND d.id = $2"))
            .bind(project_id)
            .bind(dashboard_id)
            .fetch_optional(&state.pool)
            .await?;
    Ok(view(row.ok_or(ApiError::NotFound)?))
}

/// Tiles a dashboard may have: at most `MAX_TILES`, each once, each an insight of the project.
async fn check_tiles(
    state: &AppState,
    project_id: Uuid,
    insight_ids: &[Uuid],
) -> Result<(), ApiError> {
    if insight_ids.len() > MAX_TILES {
        return Err(ApiError::BadRequest(format!(
            "a dashboard has at most {MAX_TILES} insights"
        )));
    }
    for (i, id) in insight_ids.iter().enumerate() {
        if insight_ids[..i].contains(id) {
            return Err(ApiError::BadRequest(format!(
                "insight_ids lists {id} more than once"
            )));
        }
    }
    let known: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM insights WHERE project_id = $1 AND id = ANY($2)")
            .bind(project_id)
            .bind(insight_ids)
            .fetch_all(&state.pool)
            .await?;
    match insight_ids.iter().find(|id| !known.contains(id)) {
        Some(unknown) => Err(ApiError::BadRequest(format!(
            "no such insight {unknown} in this project"
        ))),
        None => Ok(()),
    }
}

/// Writes the dashboard `dashboard_id` (a new one when `expected` is 0) and answers it as
/// stored.
async fn write(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    dashboard_id: Uuid,
    request: &DashboardRequest,
    expected: u64,
) -> Result<DashboardView, ApiError> {
    let name = checked_name(&request.name)?;
    check_tiles(state, project_id, &request.insight_ids).await?;
    state
        .record(
            dashboard_subject(project_id, dashboard_id),
            &AuthEvent::DashboardSaved {
                project_id,
                dashboard_id,
                name,
                insight_ids: request.insight_ids.clone(),
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(expected),
        )
        .await?;
    Ok(find(state, project_id, dashboard_id).await?.0)
}

/// A new dashboard of `project_id`, saved by `by`; 409 when the project has
/// [`MAX_DASHBOARDS`] already.
pub(crate) async fn create(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    request: &DashboardRequest,
) -> Result<DashboardView, ApiError> {
    // Counted before the dashboard is published, as every check here is: dashboards saved at
    // once may pass together at the cap and leave it a few over, never unbounded.
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(&state.pool)
        .await?;
    if saved >= MAX_DASHBOARDS {
        return Err(ApiError::Conflict(format!(
            "a project has at most {MAX_DASHBOARDS} dashboards: delete one first"
        )));
    }
    write(state, by, project_id, Uuid::now_v7(), request, 0).await
}

/// The dashboard saved again (renamed, its tiles changed); 404 when there is none.
pub(crate) async fn update(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    dashboard_id: Uuid,
    request: &DashboardRequest,
) -> Result<DashboardView, ApiError> {
    let (_, version) = find(state, project_id, dashboard_id).await?;
    write(state, by, project_id, dashboard_id, request, version).await
}

/// The dashboard deleted, with its shared links; 404 when there is none.
pub(crate) async fn delete(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    dashboard_id: Uuid,
) -> Result<(), ApiError> {
    let (_, version) = find(state, project_id, dashboard_id).await?;
    state
        .record(
            dashboard_subject(project_id, dashboard_id),
            &AuthEvent::DashboardDeleted {
                project_id,
                dashboard_id,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await
}
