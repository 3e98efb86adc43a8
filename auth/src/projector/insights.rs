//! How an insight or a dashboard event changes `insights` or `dashboards`.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// An insight saved (again) or deleted. One of a project the projection does not hold is left
/// out; its last writer is kept while the projection still holds them.
pub(crate) async fn insight_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::InsightSaved {
            project_id,
            insight_id,
            name,
            kind,
            view,
            query,
            by,
            at,
        } => {
            // Kept as the JSON text of the event's query, so it reads back exactly as saved.
            let query =
                serde_json::to_string(query).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
            sqlx::query(
                "INSERT INTO insights
                   (id, project_id, name, kind, view, query, updated_by, updated_at, version)
                 SELECT $1, $2, $3, $4, $5, $6, (SELECT id FROM users WHERE id = $7), $8, $9
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $2)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                   view = EXCLUDED.view, query = EXCLUDED.query,
                   updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at,
                   version = EXCLUDED.version",
            )
            .bind(insight_id)
            .bind(project_id)
            .bind(name)
            .bind(kind.as_str())
            .bind(view)
            .bind(query)
            .bind(by)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::InsightDeleted { insight_id, .. } => {
            sqlx::query("DELETE FROM insights WHERE id = $1")
                .bind(insight_id)
                .execute(&mut **tx)
                .await?;
        }
        _ => dashboard_changed(tx, sequence, event).await?,
    }
    Ok(())
}

/// A dashboard saved (again) or deleted, its shared links with it.
async fn dashboard_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::DashboardSaved {
            project_id,
            dashboard_id,
            name,
            insight_ids,
            by,
            at,
        } => {
            sqlx::query(
                "INSERT INTO dashboards
                   (id, project_id, name, insight_ids, updated_by, updated_at, version)
                 SELECT $1, $2, $3, $4, (SELECT id FROM users WHERE id = $5), $6, $7
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $2)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                   insight_ids = EXCLUDED.insight_ids, updated_by = EXCLUDED.updated_by,
                   updated_at = EXCLUDED.updated_at, version = EXCLUDED.version",
            )
            .bind(dashboard_id)
            .bind(project_id)
            .bind(name)
            .bind(insight_ids)
            .bind(by)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::DashboardDeleted { dashboard_id, .. } => {
            // Its shared links go with the row (ON DELETE CASCADE).
            sqlx::query("DELETE FROM dashboards WHERE id = $1")
                .bind(dashboard_id)
                .execute(&mut **tx)
                .await?;
        }
        // Every other kind has its own function in apply_event.
        _ => {}
    }
    Ok(())
}
