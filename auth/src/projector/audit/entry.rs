//! One line of a project's history as the summaries build it, and what they share: the
//! placeholder for the person named, and reading a name by id.

use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

/// What a summary writes in place of the person it is about (see [`Entry::about`]).
pub(crate) const USER_PLACEHOLDER: &str = "{user}";

/// One row of a project's history, before its sequence is known.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(super) project_id: Uuid,
    pub(super) at: OffsetDateTime,
    pub(super) actor: Option<Uuid>,
    pub(super) summary: String,
    pub(super) subject_user: Option<Uuid>,
}

impl Entry {
    pub(super) fn new(
        project_id: Uuid,
        at: OffsetDateTime,
        actor: Option<Uuid>,
        summary: String,
    ) -> Self {
        Self {
            project_id,
            at,
            actor,
            summary,
            subject_user: None,
        }
    }

    /// The summary's `{user}` is `user_id`.
    pub(super) fn about(mut self, user_id: Uuid) -> Self {
        self.subject_user = Some(user_id);
        self
    }
}

/// One text column by id, when the row is there.
pub(super) async fn lookup(
    tx: &mut Transaction<'_, Postgres>,
    sql: &'static str,
    id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// `dashboard Weekly deleted`, or `a dashboard deleted` when its name is gone.
pub(super) fn deleted(what: &str, name: Option<String>) -> String {
    match name {
        Some(name) => format!("{what} {name} deleted"),
        None => format!("a {what} deleted"),
    }
}

/// `1 month`, `13 months`.
pub(super) fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
