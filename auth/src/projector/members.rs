//! How a member event changes `project_members` (a removed member keeps its row, without a
//! role, for its version).

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// A member added or their role changed, or a member removed. A member of a user or project
/// the projection does not hold (an erased user's events stay on the stream) is left out.
pub(crate) async fn member_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::MemberSet {
            project_id,
            user_id,
            role,
            ..
        } => {
            sqlx::query(
                "INSERT INTO project_members (project_id, user_id, role, version)
                 SELECT $1, $2, $3, $4
                 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
                   AND EXISTS (SELECT 1 FROM projects WHERE id = $1)
                 ON CONFLICT (project_id, user_id)
                 DO UPDATE SET role = EXCLUDED.role, version = EXCLUDED.version",
            )
            .bind(project_id)
            .bind(user_id)
            .bind(role.as_str())
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::MemberRemoved {
            project_id,
            user_id,
            ..
        } => {
            sqlx::query(
                "UPDATE project_members SET role = NULL, version = $3
                 WHERE project_id = $1 AND user_id = $2",
            )
            .bind(project_id)
            .bind(user_id)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        // Every other kind has its own function in apply_event.
        _ => {}
    }
    Ok(())
}
