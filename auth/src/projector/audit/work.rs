//! The history lines of a project's saved work: notes, insights, dashboards and their shared
//! links.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;

use super::entry::{Entry, deleted, lookup, plural};

/// How many characters of a note a summary quotes.
const NOTE_CHARS: usize = 60;

/// A note written or deleted.
pub(super) async fn note_entry(
    tx: &mut Transaction<'_, Postgres>,
    event: &AuthEvent,
) -> Result<Option<Entry>, sqlx::Error> {
    let entry = match event {
        AuthEvent::AnnotationSet {
            project_id,
            annotation_id,
            marked,
            content,
            by,
            at,
        } => {
            let existed = lookup(
                tx,
                "SELECT content FROM annotations WHERE id = $1",
                *annotation_id,
            )
            .await?
            .is_some();
            let done = if existed { "changed" } else { "added" };
            let summary = format!("note on {} {done}: {}", minute(*marked), excerpt(content));
            Entry::new(*project_id, *at, Some(*by), summary)
        }
        AuthEvent::AnnotationDeleted {
            project_id,
            annotation_id,
            by,
            at,
        } => {
            let marked: Option<OffsetDateTime> =
                sqlx::query_scalar("SELECT marked FROM annotations WHERE id = $1")
                    .bind(annotation_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            let summary = match marked {
                Some(marked) => format!("note on {} deleted", minute(marked)),
                None => "a note deleted".to_owned(),
            };
            Entry::new(*project_id, *at, Some(*by), summary)
        }
        _ => return Ok(None),
    };
    Ok(Some(entry))
}

/// An insight saved or deleted.
pub(super) async fn insight_entry(
    tx: &mut Transaction<'_, Postgres>,
    event: &AuthEvent,
) -> Result<Option<Entry>, sqlx::Error> {
    const NAME: &str = "SELECT name FROM insights WHERE id = $1";
    let entry = match event {
        AuthEvent::InsightSaved {
            project_id,
            insight_id,
            name,
            kind,
            by,
            at,
            ..
        } => {
            let existed = lookup(tx, NAME, *insight_id).await?.is_some();
            let done = if existed { "changed" } else { "created" };
            let summary = format!("insight {name} ({}) {done}", kind.as_str());
            Entry::new(*project_id, *at, Some(*by), summary)
        }
        AuthEvent::InsightDeleted {
            project_id,
            insight_id,
            by,
            at,
        } => {
            let name = lookup(tx, NAME, *insight_id).await?;
            Entry::new(*project_id, *at, Some(*by), deleted("insight", name))
        }
        _ => return Ok(None),
    };
    Ok(Some(entry))
}

/// A dashboard saved or deleted, or a link to one created or revoked.
pub(super) async fn board_entry(
    tx: &mut Transaction<'_, Postgres>,
    event: &AuthEvent,
) -> Result<Option<Entry>, sqlx::Error> {
    const NAME: &str = "SELECT name FROM dashboards WHERE id = $1";
    let entry = match event {
        AuthEvent::DashboardSaved {
            project_id,
            dashboard_id,
            name,
            insight_ids,
            by,
            at,
        } => {
            let existed = lookup(tx, NAME, *dashboard_id).await?.is_some();
            let done = if existed { "changed" } else { "created" };
            let tiles = plural(insight_ids.len(), "insight");
            let summary = format!("dashboard {name} {done} ({tiles})");
            Entry::new(*project_id, *at, Some(*by), summary)
        }
        AuthEvent::DashboardDeleted {
            project_id,
            dashboard_id,
            by,
            at,
        } => {
            let name = lookup(tx, NAME, *dashboard_id).await?;
            Entry::new(*project_id, *at, Some(*by), deleted("dashboard", name))
        }
        AuthEvent::ShareCreated {
            project_id,
            dashboard_id,
            password_hash,
            embed_origins,
            by,
            at,
            ..
        } => {
            let name = lookup(tx, NAME, *dashboard_id).await?;
            let summary = share_summary(name, password_hash.is_some(), embed_origins);
            Entry::new(*project_id, *at, Some(*by), summary)
        }
        AuthEvent::ShareRevoked {
            project_id,
            share_id,
            by,
            at,
        } => {
            let name = lookup(
                tx,
                "SELECT d.name FROM shares s JOIN dashboards d ON d.id = s.dashboard_id
                 WHERE s.id = $1",
                *share_id,
            )
            .await?;
            let summary = match name {
                Some(name) => format!("link to dashboard {name} revoked"),
                None => "a shared link revoked".to_owned(),
            };
            Entry::new(*project_id, *at, Some(*by), summary)
        }
        _ => return Ok(None),
    };
    Ok(Some(entry))
}

fn share_summary(dashboard: Option<String>, password: bool, embed_origins: &[String]) -> String {
    let mut summary = match dashboard {
        Some(name) => format!("shared dashboard {name}"),
        None => "shared a dashboard".to_owned(),
    };
    if password {
        summary.push_str(" (with a password)");
    }
    if !embed_origins.is_empty() {
        summary.push_str(&format!(", embeddable in {}", embed_origins.join(", ")));
    }
    summary
}

fn excerpt(text: &str) -> String {
    let mut excerpt: String = text.chars().take(NOTE_CHARS).collect();
    if text.chars().count() > NOTE_CHARS {
        excerpt.push('…');
    }
    excerpt
}

/// `2026-12-06 14:05 UTC`.
fn minute(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_says_whether_it_has_a_password_and_a_note_is_quoted_short() {
        assert_eq!(
            share_summary(Some("Weekly".into()), true, &[]),
            "shared dashboard Weekly (with a password)"
        );
        assert_eq!(excerpt(&"x".repeat(61)).chars().count(), 61);
        assert_eq!(excerpt("short"), "short");
        assert_eq!(minute(OffsetDateTime::UNIX_EPOCH), "1970-01-01 00:00 UTC");
    }
}
