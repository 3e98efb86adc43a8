//! The ClickHouse schema of the events table (and, in `persons`, the persons' tables; in
//! `event_days`, the per-day change counters and their view; in `sessions`, the sessions table
//! and its view). Every statement runs on ClickHouse 18.16 (what Debian ships) and on current
//! ClickHouse (the compose image), and is idempotent.

mod apply;
pub(crate) mod event_days;
mod layout;
pub(crate) mod persons;
mod sessions;
mod statements;

pub use apply::{apply, apply_layout, column_additions};
pub use layout::Layout;
pub use statements::{LOW_CARDINALITY_COLUMNS, STATEMENTS};

/// The statements for `database` on one server, the event days' and the sessions' included.
pub fn statements(database: &str) -> anyhow::Result<Vec<String>> {
    let layout = Layout::new(database, None)?;
    let mut statements = layout.statements();
    statements.extend(event_days::statements(&layout));
    statements.extend(session_statements(&layout));
    Ok(statements)
}

/// The statements of `layout`'s sessions table and view, which [`apply_layout`] runs once the
/// events table has every column (they are not among [`Layout::statements`]).
pub fn session_statements(layout: &Layout) -> Vec<String> {
    sessions::statements(layout)
}

/// The statements for `database` on the shards of `cluster`.
#[cfg(test)]
pub(crate) fn cluster_statements(database: &str, cluster: &str) -> anyhow::Result<Vec<String>> {
    Ok(Layout::new(database, Some(cluster))?.statements())
}
