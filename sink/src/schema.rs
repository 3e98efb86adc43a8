//! The ClickHouse schema of the events table. Every statement runs on ClickHouse 18.16 (what
//! Debian ships) and on current ClickHouse (the compose image), and is idempotent.

use anyhow::Context as _;

/// Statements applied in order at start; `{db}` is the configured database.
pub const STATEMENTS: &[&str] = &[
    "CREATE DATABASE IF NOT EXISTS {db}",
    // ReplacingMergeTree whose sorting key starts with project and date and ends with the event
    // id: a redelivered or retried event is the same row, merged away in the background and
    // never counted twice by queries that read with FINAL or count distinct event ids.
    // `inserted_at` is the version, so the latest copy wins. Properties are parallel key and
    // value arrays, which ClickHouse 18.16 and current versions both filter and group by.
    // `user_hash` (computed on insert) is what queries count and group users by: a UInt64
    // hashes and compares two to three times faster than the string, and 64-bit CityHash
    // collisions are out of reach (about one in 10^7 for a million users).
    "CREATE TABLE IF NOT EXISTS {db}.events (
        project_id UUID,
        date Date,
        timestamp DateTime('UTC'),
        event String,
        event_id UUID,
        kind String,
        distinct_id String,
        user_id String,
        session_id String,
        received_at DateTime('UTC'),
        prop_keys Array(String),
        prop_values Array(String),
        url String,
        host String,
        path String,
        referrer String,
        referrer_domain String,
        browser String,
        os String,
        device_type String,
        lib String,
        ip String,
        is_bot UInt8,
        stream_sequence UInt64,
        inserted_at DateTime('UTC') DEFAULT now(),
        user_hash UInt64 MATERIALIZED cityHash64(distinct_id)
    )
    ENGINE = ReplacingMergeTree(inserted_at)
    PARTITION BY toYYYYMM(date)
    ORDER BY (project_id, date, event, event_id)",
];

/// Columns added after the table was first released: name and the `ALTER` that adds them
/// (ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`, so `apply` checks first). Parts written
/// before compute them on read until they are merged.
pub const ADDED_COLUMNS: &[(&str, &str)] = &[(
    "user_hash",
    "ALTER TABLE {db}.events ADD COLUMN user_hash UInt64 MATERIALIZED cityHash64(distinct_id)",
)];

/// The columns the sink writes, which an existing table must have.
pub const EVENT_COLUMNS: &[&str] = &[
    "project_id",
    "date",
    "timestamp",
    "event",
    "event_id",
    "kind",
    "distinct_id",
    "user_id",
    "session_id",
    "received_at",
    "prop_keys",
    "prop_values",
    "url",
    "host",
    "path",
    "referrer",
    "referrer_domain",
    "browser",
    "os",
    "device_type",
    "lib",
    "ip",
    "is_bot",
    "stream_sequence",
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
    let present: Vec<String> = server
        .query("SELECT name FROM system.columns WHERE database = ? AND table = 'events'")
        .bind(database)
        .fetch_all()
        .await
        .context("reading the columns of the events table")?;
    let missing: Vec<&str> = EVENT_COLUMNS
        .iter()
        .copied()
        .filter(|column| !present.iter().any(|p| p == column))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{database}.events lacks the columns {missing:?}: an older version created it; drop it \
         and restart the sink, which recreates it; events not stored yet are still on the stream"
    );
    for (column, alter) in ADDED_COLUMNS {
        if !present.iter().any(|p| p == column) {
            server
                .query(&alter.replace("{db}", database))
                .execute()
                .await
                .with_context(|| format!("adding the column {column}"))?;
        }
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
