//! The ClickHouse schema of the events table. Every statement runs on ClickHouse 18.16 (what
//! Debian ships) and on current ClickHouse (the compose image), and is idempotent.

use anyhow::Context as _;

/// Statements applied in order at start; `{db}` is the configured database.
pub const STATEMENTS: &[&str] = &[
    "CREATE DATABASE IF NOT EXISTS {db}",
    // ReplacingMergeTree keyed on the event id (last column of the sorting key): a redelivered
    // or retried event collapses into one row, so nothing counts twice. `inserted_at` is the
    // version, so the latest copy wins.
    "CREATE TABLE IF NOT EXISTS {db}.events (
        event_id UUID,
        project_id UUID,
        kind String,
        event String,
        distinct_id String,
        user_id String,
        session_id String,
        timestamp DateTime('UTC'),
        received_at DateTime('UTC'),
        properties String,
        url String,
        host String,
        path String,
        referrer String,
        referrer_domain String,
        browser String,
        os String,
        device_type String,
        lib String,
        inserted_at DateTime('UTC') DEFAULT now()
    )
    ENGINE = ReplacingMergeTree(inserted_at)
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (project_id, toDate(timestamp), event, event_id)",
];

/// `name` is usable as a database name without quoting: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_valid_database_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The statements for `database`.
pub fn statements(database: &str) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(
        is_valid_database_name(database),
        "CLICKHOUSE_DB {database:?} is not a plain identifier"
    );
    Ok(STATEMENTS
        .iter()
        .map(|sql| sql.replace("{db}", database))
        .collect())
}

/// Applies every statement through a client without a database selected.
pub async fn apply(server: &clickhouse::Client, database: &str) -> anyhow::Result<()> {
    for sql in statements(database)? {
        server
            .query(&sql)
            .execute()
            .await
            .with_context(|| format!("applying ClickHouse schema: {}", first_line(&sql)))?;
    }
    Ok(())
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_plain_identifiers() {
        assert!(is_valid_database_name("analytics"));
        assert!(is_valid_database_name("test_01"));
        assert!(!is_valid_database_name("a-b"));
        assert!(!is_valid_database_name("x; DROP TABLE y"));
        assert!(!is_valid_database_name(""));
        assert!(statements("bad name").is_err());
    }
}
