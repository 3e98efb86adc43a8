//! Annotations: dated notes on a project. Each is a subject of its own on the stream
//! (`auth.project.<project>.annotation.<id>`), written expecting the last sequence read there,
//! and projected into `annotations`.

use contract::auth::MAX_ANNOTATION_CHARS;
use contract::auth::{
    AnnotationList, AnnotationRequest, AnnotationView, AuthEvent, annotation_subject,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// One row of `annotations`, with its author's email.
type Row = (
    Uuid,
    Uuid,
    OffsetDateTime,
    String,
    Option<String>,
    OffsetDateTime,
    i64,
);

/// The columns of [`Row`], from `annotations` and the author's row.
macro_rules! select {
    () => {
        "SELECT a.id, a.project_id, a.marked, a.content, u.email, a.updated_at, a.version
         FROM annotations a LEFT JOIN users u ON u.id = a.created_by"
    };
}

fn view(row: Row) -> AnnotationView {
    let (id, project_id, at, content, created_by, updated_at, _) = row;
    AnnotationView {
        id,
        project_id,
        at,
        content,
        created_by: created_by.unwrap_or_default(),
        updated_at,
    }
}

/// The notes of `project_id` about moments in `[from, to)` (each bound optional), oldest first.
pub(crate) async fn list(
    state: &AppState,
    project_id: Uuid,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<AnnotationList, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select!(),
        " WHERE a.project_id = $1 AND ($2::timestamptz IS NULL OR a.marked >= $2)
           AND ($3::timestamptz IS NULL OR a.marked < $3) ORDER BY a.marked, a.id"
    ))
    .bind(project_id)
    .bind(from)
    .bind(to)
    .fetch_all(&state.pool)
    .await?;
    Ok(AnnotationList {
        annotations: rows.into_iter().map(view).collect(),
    })
}

/// The note's text, checked: 1 to 400 characters once trimmed.
fn checked(request: &AnnotationRequest) -> Result<String, ApiError> {
    let content = request.content.trim();
    let length = content.chars().count();
    if length == 0 || length > MAX_ANNOTATION_CHARS {
        return Err(ApiError::BadRequest(format!(
            "content must have 1 to {MAX_ANNOTATION_CHARS} characters"
        )));
    }
    Ok(content.to_owned())
}

/// The note `annotation_id` of `project_id` and its version; 404 when there is none.
async fn find(
    state: &AppState,
    project_id: Uuid,
    annotation_id: Uuid,
) -> Result<(AnnotationView, u64), ApiError> {
    let row: Option<Row> =
        sqlx::query_as(concat!(select!(), " WHERE a.project_id = $1 AND a.id = $2"))
            .bind(project_id)
            .bind(annotation_id)
            .fetch_optional(&state.pool)
            .await?;
    let row = row.ok_or(ApiError::NotFound)?;
    let version = u64::try_from(row.6).unwrap_or(0);
    Ok((view(row), version))
}

/// Writes the note `annotation_id` (a new one when `expected` is 0) and answers it as stored.
async fn write(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    annotation_id: Uuid,
    request: &AnnotationRequest,
    expected: u64,
) -> Result<AnnotationView, ApiError> {
    let content = checked(request)?;
    state
        .record(
            annotation_subject(project_id, annotation_id),
            &AuthEvent::AnnotationSet {
                project_id,
                annotation_id,
                marked: request.at,
                content,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(expected),
        )
        .await?;
    Ok(find(state, project_id, annotation_id).await?.0)
}

/// A new note on `project_id` by `by`.
pub(crate) async fn create(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    request: &AnnotationRequest,
) -> Result<AnnotationView, ApiError> {
    write(state, by, project_id, Uuid::now_v7(), request, 0).await
}

/// The note rewritten; 404 when there is none.
pub(crate) async fn update(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    annotation_id: Uuid,
    request: &AnnotationRequest,
) -> Result<AnnotationView, ApiError> {
    let (_, version) = find(state, project_id, annotation_id).await?;
    write(state, by, project_id, annotation_id, request, version).await
}

/// The note deleted; 404 when there is none.
pub(crate) async fn delete(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    annotation_id: Uuid,
) -> Result<(), ApiError> {
    let (_, version) = find(state, project_id, annotation_id).await?;
    state
        .record(
            annotation_subject(project_id, annotation_id),
            &AuthEvent::AnnotationDeleted {
                project_id,
                annotation_id,
                by,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await
}
