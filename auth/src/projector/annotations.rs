//! How an annotation event changes `annotations`.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// A note written or rewritten (its author is the first writer, when the projection still
/// holds them), or deleted.
pub(crate) async fn annotation_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::AnnotationSet {
            project_id,
            annotation_id,
            marked,
            content,
            by,
            at,
        } => {
            sqlx::query(
                "INSERT INTO annotations
                   (id, project_id, marked, content, created_by, created_at, updated_at, version)
                 SELECT $1, $2, $3, $4, (SELECT id FROM users WHERE id = $5), $6, $6, $7
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $2)
                 ON CONFLICT (id) DO UPDATE SET marked = EXCLUDED.marked,
                   content = EXCLUDED.content, updated_at = EXCLUDED.updated_at,
                   version = EXCLUDED.version",
            )
            .bind(annotation_id)
            .bind(project_id)
            .bind(marked)
            .bind(content)
            .bind(by)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::AnnotationDeleted { annotation_id, .. } => {
            sqlx::query("DELETE FROM annotations WHERE id = $1")
                .bind(annotation_id)
                .execute(&mut **tx)
                .await?;
        }
        // Every other kind has its own function in apply_event.
        _ => {}
    }
    Ok(())
}
