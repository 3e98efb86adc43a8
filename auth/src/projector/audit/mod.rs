//! A project's history: one row of `project_audit` per event on the project's subjects, its
//! summary written in words when projected. What the summary needs from before the event (the
//! name of a dashboard it deletes) is read before the event is applied. A person the summary
//! names is kept as an id, written `{user}`, and named by email when read, so an erased person
//! leaves no email behind. A summary never holds a secret: no write key past its first
//! characters, no token, no hash, no password.

mod entry;
mod project;
mod work;

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

use self::entry::Entry;
pub(crate) use self::entry::USER_PLACEHOLDER;

/// The entry `event` makes in its project's history, read inside `tx` before the event is
/// applied; `None` for an event of no project.
pub(crate) async fn entry(
    tx: &mut Transaction<'_, Postgres>,
    event: &AuthEvent,
) -> Result<Option<Entry>, sqlx::Error> {
    match event {
        AuthEvent::ProjectCreated { .. }
        | AuthEvent::ProjectDomainsSet { .. }
        | AuthEvent::ProjectQuotaSet { .. }
        | AuthEvent::ProjectRetentionSet { .. }
        | AuthEvent::WriteKeyIssued { .. }
        | AuthEvent::WriteKeyRevoked { .. } => project::project_entry(tx, event).await,
        AuthEvent::MemberSet { .. }
        | AuthEvent::MemberRemoved { .. }
        | AuthEvent::InviteCreated { .. }
        | AuthEvent::InviteAccepted { .. }
        | AuthEvent::InviteRevoked { .. } => project::people_entry(tx, event).await,
        AuthEvent::AnnotationSet { .. } | AuthEvent::AnnotationDeleted { .. } => {
            work::note_entry(tx, event).await
        }
        AuthEvent::InsightSaved { .. } | AuthEvent::InsightDeleted { .. } => {
            work::insight_entry(tx, event).await
        }
        AuthEvent::DashboardSaved { .. }
        | AuthEvent::DashboardDeleted { .. }
        | AuthEvent::ShareCreated { .. }
        | AuthEvent::ShareRevoked { .. } => work::board_entry(tx, event).await,
        _ => Ok(None),
    }
}

/// Writes `entry` as the event at `sequence`, tagged with its kind; left out when the project
/// is not in the projection.
pub(crate) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
    entry: Entry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO project_audit (project_id, sequence, at, actor, action, summary, subject_user)
         SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $1)
         ON CONFLICT DO NOTHING",
    )
    .bind(entry.project_id)
    .bind(sequence)
    .bind(entry.at)
    .bind(entry.actor)
    .bind(action(event))
    .bind(entry.summary)
    .bind(entry.subject_user)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The event's type as the stream spells it (its serde tag: `member_set`, `share_created`, …).
fn action(event: &AuthEvent) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|value| value.get("type")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn an_entry_is_tagged_with_its_events_type() {
        let action = action(&AuthEvent::WriteKeyRevoked {
            by: None,
            project_id: Uuid::nil(),
            key_id: Uuid::nil(),
            at: OffsetDateTime::UNIX_EPOCH,
        });
        assert_eq!(action, "write_key_revoked");
    }
}
