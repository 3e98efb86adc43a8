//! The parts of a project beside its own row: its members, notes, invites, insights,
//! dashboards and shared links, each applied by its own module.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// Applies a member, annotation, invite, insight, dashboard or shared-link event.
pub(crate) async fn changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::MemberSet { .. } | AuthEvent::MemberRemoved { .. } => {
            super::members::member_changed(tx, sequence, event).await
        }
        AuthEvent::AnnotationSet { .. } | AuthEvent::AnnotationDeleted { .. } => {
            super::annotations::annotation_changed(tx, sequence, event).await
        }
        AuthEvent::InsightSaved { .. }
        | AuthEvent::InsightDeleted { .. }
        | AuthEvent::DashboardSaved { .. }
        | AuthEvent::DashboardDeleted { .. } => {
            super::insights::insight_changed(tx, sequence, event).await
        }
        AuthEvent::ShareCreated { .. } | AuthEvent::ShareRevoked { .. } => {
            super::shares::share_changed(tx, sequence, event).await
        }
        _ => super::invites::invite_changed(tx, sequence, event).await,
    }
}
