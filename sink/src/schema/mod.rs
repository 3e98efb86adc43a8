//! The ClickHouse schema of the events table. Every statement runs on ClickHouse 18.16 (what
//! Debian ships) and on current ClickHouse (the compose image), and is idempotent.

mod apply;
mod layout;
mod statements;

pub use apply::{apply, apply_layout};
pub use layout::Layout;
pub use statements::{LOW_CARDINALITY_COLUMNS, STATEMENTS};

/// The statements for `database` on one server.
pub fn statements(database: &str) -> anyhow::Result<Vec<String>> {
    Ok(Layout::new(database, None)?.statements())
}

/// The statements for `database` on the shards of `cluster`.
#[cfg(test)]
pub(crate) fn cluster_statements(database: &str, cluster: &str) -> anyhow::Result<Vec<String>> {
    Ok(Layout::new(database, Some(cluster))?.statements())
}
