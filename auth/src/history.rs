//! A project's history for its admins: the `project_audit` projection read a page at a time,
//! newest first, its people named by their email as they are now (empty once erased).

use contract::auth::{AuditEntry, AuditPage};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::projector::USER_PLACEHOLDER;
use crate::state::AppState;

/// Entries a page holds unless asked for another number.
pub(crate) const DEFAULT_LIMIT: u32 = 50;

/// The most entries one page holds.
pub(crate) const MAX_LIMIT: u32 = 200;

/// What a summary says for a person who was erased.
const ERASED: &str = "an erased user";

/// One row of `project_audit`, with its actor's and its subject's email.
type Row = (
    i64,
    OffsetDateTime,
    Option<String>,
    String,
    String,
    Option<Uuid>,
    Option<String>,
);

/// The entries of `project_id` before the sequence `before` (all: `None`), newest first, at most
/// `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]).
pub(crate) async fn page(
    state: &AppState,
    project_id: Uuid,
    before: Option<u64>,
    limit: Option<u32>,
) -> Result<AuditPage, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let before = before.map(|before| i64::try_from(before).unwrap_or(i64::MAX));
    // One more than asked: whether an older page exists.
    let mut rows: Vec<Row> = sqlx::query_as(
        "SELECT a.sequence, a.at, actor.email, a.action, a.summary, a.subject_user, subject.email
         FROM project_audit a
         LEFT JOIN users actor ON actor.id = a.actor
         LEFT JOIN users subject ON subject.id = a.subject_user
         WHERE a.project_id = $1 AND ($2::bigint IS NULL OR a.sequence < $2)
         ORDER BY a.sequence DESC LIMIT $3",
    )
    .bind(project_id)
    .bind(before)
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.pool)
    .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let entries: Vec<AuditEntry> = rows.into_iter().map(entry).collect();
    Ok(AuditPage {
        next_before: entries.last().filter(|_| more).map(|last| last.sequence),
        entries,
    })
}

fn entry(row: Row) -> AuditEntry {
    let (sequence, at, actor, action, summary, subject, subject_email) = row;
    let summary = match subject {
        Some(_) => summary.replace(USER_PLACEHOLDER, subject_email.as_deref().unwrap_or(ERASED)),
        None => summary,
    };
    AuditEntry {
        sequence: u64::try_from(sequence).unwrap_or(0),
        at,
        actor: actor.unwrap_or_default(),
        action,
        summary,
    }
}
