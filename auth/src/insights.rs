//! Saved insights: one analysis of a project with its filters and range, named. Each is a
//! subject of its own on the stream (`auth.project.<project>.insight.<id>`), written expecting
//! the last sequence read there, and projected into `insights`. What makes a query valid is in
//! `insight_checks`.

use contract::auth::{
    AuthEvent, InsightKind, InsightList, InsightQuery, InsightRequest, InsightView, MAX_NAME_CHARS,
    insight_subject,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::insight_checks;
use crate::state::AppState;
use crate::users::plain_text;

/// Saved insights a project may have.
pub(crate) const MAX_INSIGHTS: i64 = 1000;

/// One row of `insights`, with its last writer's email.
type Row = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    String,
    Option<String>,
    OffsetDateTime,
    i64,
);

/// The columns of [`Row`], from `insights` and the last writer's row.
macro_rules! select {
    () => {
        "SELECT i.id, i.project_id, i.name, i.kind, i.view, i.query, u.email, i.updated_at,
           i.version FROM insights i LEFT JOIN users u ON u.id = i.updated_by"
    };
}

/// A row as the API shows it, and its version. What the projector stored from a checked
/// event always reads back; anything else is a bug, not bad input.
fn view(row: Row) -> Result<(InsightView, u64), ApiError> {
    let (id, project_id, name, kind, view, query, updated_by, updated_at, version) = row;
    let kind = InsightKind::ALL
        .into_iter()
        .find(|known| known.as_str() == kind)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("insight {id} has kind {kind:?}")))?;
    let query: InsightQuery = serde_json::from_str(&query)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("insight {id}'s query: {err}")))?;
    Ok((
        InsightView {
            id,
            project_id,
            name,
            kind,
            view,
            query,
            updated_by: updated_by.unwrap_or_default(),
            updated_at,
        },
        u64::try_from(version).unwrap_or(0),
    ))
}

/// A name of an insight or a dashboard, checked: 1 to 200 characters once trimmed, no control
/// characters.
pub(crate) fn checked_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > MAX_NAME_CHARS {
        return Err(ApiError::BadRequest(format!(
            "name must have 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    plain_text("name", name)?;
    Ok(name.to_owned())
}

/// The insights of `project_id`, by name.
pub(crate) async fn list(state: &AppState, project_id: Uuid) -> Result<InsightList, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select!(),
        " WHERE i.project_id = $1 ORDER BY lower(i.name), i.name, i.id"
    ))
    .bind(project_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(InsightList {
        insights: rows
            .into_iter()
            .map(|row| view(row).map(|(view, _)| view))
            .collect::<Result<_, _>>()?,
    })
}

/// The insight `insight_id` of `project_id` and its version; 404 when there is none.
pub(crate) async fn find(
    state: &AppState,
    project_id: Uuid,
    insight_id: Uuid,
) -> Result<(InsightView, u64), ApiError> {
    let row: Option<Row> =
        sqlx::query_as(concat!(select!(), " WHERE i.project_id = $1 AND i.id = $2"))
            .bind(project_id)
            .bind(insight_id)
            .fetch_optional(&state.pool)
            .await?;
    view(row.ok_or(ApiError::NotFound)?)
}

/// Writes the insight `insight_id` (a new one when `expected` is 0) and answers it as stored.
async fn write(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    insight_id: Uuid,
    request: &InsightRequest,
    expected: u64,
) -> Result<InsightView, ApiError> {
    let name = checked_name(&request.name)?;
    let query = insight_checks::checked(request)?;
    state
        .record(
            insight_subject(project_id, insight_id),
            &AuthEvent::InsightSaved {
                project_id,
                insight_id,
                name,
                kind: request.kind,
                view: request.view.clone(),
                query,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(expected),
        )
        .await?;
    Ok(find(state, project_id, insight_id).await?.0)
}

/// A new insight of `project_id`, saved by `by`; 409 when the project has
/// [`MAX_INSIGHTS`] already.
pub(crate) async fn create(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    request: &InsightRequest,
) -> Result<InsightView, ApiError> {
    // Counted before the insight is published, as every check here is: insights saved at
    // once may pass together at the cap and leave it a few over, never unbounded.
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM insights WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(&state.pool)
        .await?;
    if saved >= MAX_INSIGHTS {
        return Err(ApiError::Conflict(format!(
            "a project has at most {MAX_INSIGHTS} saved insights: delete one first"
        )));
    }
    write(state, by, project_id, Uuid::now_v7(), request, 0).await
}

/// The insight saved again; 404 when there is none.
pub(crate) async fn update(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    insight_id: Uuid,
    request: &InsightRequest,
) -> Result<InsightView, ApiError> {
    let (_, version) = find(state, project_id, insight_id).await?;
    write(state, by, project_id, insight_id, request, version).await
}

/// The insight deleted (dashboards leave it out from then on); 404 when there is none.
pub(crate) async fn delete(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    insight_id: Uuid,
) -> Result<(), ApiError> {
    let (_, version) = find(state, project_id, insight_id).await?;
    state
        .record(
            insight_subject(project_id, insight_id),
            &AuthEvent::InsightDeleted {
                project_id,
                insight_id,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await
}
