//! How a project event changes its row in `projects`: created, its domains, quota or retention
//! set.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// A project created, or its domains, quota or retention set.
pub(crate) async fn project_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::ProjectCreated {
            project_id,
            name,
            timezone,
            at,
            ..
        } => {
            sqlx::query(
                "INSERT INTO projects (id, name, timezone, created_at, version)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(project_id)
            .bind(name)
            .bind(timezone)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::ProjectDomainsSet {
            project_id,
            domains,
            ..
        } => {
            sqlx::query("UPDATE projects SET domains = $2, version = $3 WHERE id = $1")
                .bind(project_id)
                .bind(domains)
                .bind(sequence)
                .execute(&mut **tx)
                .await?;
        }
        AuthEvent::ProjectQuotaSet {
            project_id,
            events_per_second,
            bytes_per_second,
            ..
        } => {
            // Rates are checked to fit when set; one that does not is stored as no own rate.
            let rate = |value: &Option<u64>| value.and_then(|v| i64::try_from(v).ok());
            sqlx::query(
                "UPDATE projects SET events_per_second = $2, bytes_per_second = $3, version = $4
                 WHERE id = $1",
            )
            .bind(project_id)
            .bind(rate(events_per_second))
            .bind(rate(bytes_per_second))
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::ProjectRetentionSet {
            project_id, months, ..
        } => {
            // The key-value bucket the sink reads follows this column (`super::retention`).
            sqlx::query("UPDATE projects SET retention_months = $2, version = $3 WHERE id = $1")
                .bind(project_id)
                .bind(months.map(i32::from))
                .bind(sequence)
                .execute(&mut **tx)
                .await?;
        }
        // Every other kind has its own function in `apply_event`.
        _ => {}
    }
    Ok(())
}
