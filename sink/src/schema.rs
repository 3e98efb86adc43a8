//! The ClickHouse schema of the events table. Every statement runs on ClickHouse 18.16 (what
//! Debian ships) and on current ClickHouse (the compose image), and is idempotent.

use anyhow::Context as _;

/// The columns of the events table up to `user_hash`, whose kind differs between one server
/// and a cluster. A macro, so that both layouts' statements stay `&'static str` constants.
macro_rules! event_columns {
    () => {
        "project_id UUID,
        date Date,
        timestamp DateTime('UTC'),
        event String,
        event_id UUID,
        kind LowCardinality(String),
        distinct_id String,
        user_id String,
        session_id String,
        received_at DateTime('UTC'),
        prop_keys Array(String),
        prop_values Array(String),
        url String,
        host LowCardinality(String),
        path LowCardinality(String),
        referrer String,
        referrer_domain LowCardinality(String),
        browser LowCardinality(String),
        os LowCardinality(String),
        device_type LowCardinality(String),
        lib LowCardinality(String),
        ip String,
        is_bot UInt8,
        stream_sequence UInt64,
        inserted_at DateTime('UTC') DEFAULT now()"
    };
}

/// Partitioning and sorting of the table that stores events, on one server or on each shard.
macro_rules! events_storage {
    () => {
        "PARTITION BY toYYYYMM(date)
    ORDER BY (project_id, date, event, event_id)"
    };
}

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
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.events (
        ",
        event_columns!(),
        ",
        user_hash UInt64 MATERIALIZED cityHash64(distinct_id)
    )
    ENGINE = ReplacingMergeTree(inserted_at)
    ",
        events_storage!()
    ),
];

/// The same table on a cluster (`CLICKHOUSE_CLUSTER`); `{cluster}` is its name. Every shard
/// stores its events in `events_local`, replicated through ZooKeeper (or Keeper) under a path
/// named by the shard's `{shard}` macro, one replica per `{replica}` macro; `events` is a
/// `Distributed` table over them, which the sink writes and query reads exactly as it would the
/// single table.
///
/// The sharding key is the hash of `distinct_id`. ReplacingMergeTree removes copies only within
/// one shard, so a copy of an event must land where the first one did: it does, since a copy is
/// the same message (a redelivery) or the same payload (a client's retry under the same id),
/// with the same `distinct_id`. It also keeps a user's events on one shard, where sessions,
/// funnels and retention group them.
///
/// `user_hash` is `DEFAULT` here, not `MATERIALIZED`: ClickHouse 18.16's `Distributed` table
/// computes a materialized column before sending rows to the shards, which then refuse it as
/// an insert into a materialized column. As a default it is computed once, by the `Distributed`
/// table, and stored on the shard like any column; the sink's inserts name their columns, so
/// it is never sent by hand.
pub const CLUSTER_STATEMENTS: &[&str] = &[
    "CREATE DATABASE IF NOT EXISTS {db} ON CLUSTER {cluster}",
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.events_local ON CLUSTER {cluster} (
        ",
        event_columns!(),
        ",
        user_hash UInt64 DEFAULT cityHash64(distinct_id)
    )
    ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{db}/events_local', '{replica}', inserted_at)
    ",
        events_storage!()
    ),
    DISTRIBUTED_TABLE,
];

/// The `Distributed` table of a cluster. It holds no rows (the sink inserts synchronously), so
/// a migration may drop it and create it again.
const DISTRIBUTED_TABLE: &str = concat!(
    "CREATE TABLE IF NOT EXISTS {db}.events ON CLUSTER {cluster} (
        ",
    event_columns!(),
    ",
        user_hash UInt64 DEFAULT cityHash64(distinct_id)
    )
    ENGINE = Distributed({cluster}, {db}, events_local, cityHash64(distinct_id))"
);

/// Columns added after the table was first released: name, the `ALTER` that adds them on one
/// server, and the one that adds them to every shard's `events_local` (ClickHouse 18.16 has no
/// `ADD COLUMN IF NOT EXISTS`, so `apply` checks first). Parts written before compute them on
/// read until they are merged. A cluster's `Distributed` table is created again instead: 18.16
/// refuses `ALTER … ON CLUSTER` on a table that is not replicated when the cluster's shards
/// are (`internal_replication`), and that table holds no rows to keep.
pub const ADDED_COLUMNS: &[(&str, &str, &str)] = &[(
    "user_hash",
    "ALTER TABLE {db}.events ADD COLUMN user_hash UInt64 MATERIALIZED cityHash64(distinct_id)",
    "ALTER TABLE {db}.events_local ON CLUSTER {cluster} \
     ADD COLUMN user_hash UInt64 DEFAULT cityHash64(distinct_id)",
)];

/// Columns stored as `LowCardinality(String)`: the dimensions dashboards group and filter by,
/// with at most thousands of values per project (paths, browsers, referrers). Each part keeps
/// a dictionary of their values and the rows hold small indices, so grouping by them runs on
/// integers (trends by browser and top paths two to three times faster on 10 M events). A
/// table created before stores them as `String`; `apply` converts it (non-key columns, so
/// ClickHouse rewrites only those columns' files). `event` stays `String`: it is part of the
/// sorting key, whose type ClickHouse does not change in place.
pub const LOW_CARDINALITY_COLUMNS: &[&str] = &[
    "kind",
    "host",
    "path",
    "referrer_domain",
    "browser",
    "os",
    "device_type",
    "lib",
];

/// The setting ClickHouse 18.x requires for DDL that creates `LowCardinality` columns (then
/// experimental). Current servers no longer know it and refuse it, so [`apply_layout`] sends
/// it only to a server that lists it in `system.settings`.
const LOW_CARDINALITY_SETTING: &str = "allow_experimental_low_cardinality_type";

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

/// `name` can stand unquoted in SQL as a cluster name: `[A-Za-z0-9_]+` (what
/// `plumbing::config` accepts for `CLICKHOUSE_CLUSTER`).
pub fn is_valid_cluster_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where the events live: a database on one server, or on the shards of a cluster. Both names
/// are checked once here, since DDL takes them spliced, not bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    database: String,
    cluster: Option<String>,
}

impl Layout {
    pub fn new(database: &str, cluster: Option<&str>) -> anyhow::Result<Self> {
        anyhow::ensure!(
            is_valid_database_name(database),
            "CLICKHOUSE_DB {database:?} is not a plain identifier"
        );
        if let Some(cluster) = cluster {
            anyhow::ensure!(
                is_valid_cluster_name(cluster),
                "CLICKHOUSE_CLUSTER {cluster:?} is not a plain name"
            );
        }
        Ok(Self {
            database: database.to_owned(),
            cluster: cluster.map(str::to_owned),
        })
    }

    /// The database and cluster of `config`.
    pub fn of(config: &plumbing::config::ClickHouseConfig) -> anyhow::Result<Self> {
        Self::new(&config.database, config.cluster.as_deref())
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The table whose parts hold the rows: `events`, or each shard's `events_local`.
    pub fn storage_table(&self) -> &'static str {
        if self.cluster.is_some() {
            "events_local"
        } else {
            "events"
        }
    }

    /// ` ON CLUSTER <name>` for DDL that every server of the cluster runs; empty on one server.
    pub fn on_cluster(&self) -> String {
        self.cluster
            .as_deref()
            .map(|cluster| format!(" ON CLUSTER {cluster}"))
            .unwrap_or_default()
    }

    /// `sql` with `{db}` and `{cluster}` filled in.
    fn fill(&self, sql: &str) -> String {
        sql.replace("{db}", &self.database)
            .replace("{cluster}", self.cluster.as_deref().unwrap_or_default())
    }

    /// The `ALTER` that stores `columns` (of [`LOW_CARDINALITY_COLUMNS`]) of the table holding
    /// the rows as `LowCardinality(String)`, on every shard of a cluster.
    pub fn low_cardinality_alter(&self, columns: &[&str]) -> String {
        let modify: Vec<String> = columns
            .iter()
            .map(|name| format!("MODIFY COLUMN {name} LowCardinality(String)"))
            .collect();
        format!(
            "ALTER TABLE {}.{}{} {}",
            self.database,
            self.storage_table(),
            self.on_cluster(),
            modify.join(", ")
        )
    }

    /// The schema's statements for this layout.
    pub fn statements(&self) -> Vec<String> {
        let templates = if self.cluster.is_some() {
            CLUSTER_STATEMENTS
        } else {
            STATEMENTS
        };
        templates.iter().map(|sql| self.fill(sql)).collect()
    }
}

/// The statements for `database` on one server.
pub fn statements(database: &str) -> anyhow::Result<Vec<String>> {
    Ok(Layout::new(database, None)?.statements())
}

/// The statements for `database` on the shards of `cluster`.
pub fn cluster_statements(database: &str, cluster: &str) -> anyhow::Result<Vec<String>> {
    Ok(Layout::new(database, Some(cluster))?.statements())
}

/// Applies every statement for `database` on one server, through a client without a database
/// selected.
pub async fn apply(server: &clickhouse::Client, database: &str) -> anyhow::Result<()> {
    apply_layout(server, &Layout::new(database, None)?).await
}

/// Applies every statement of `layout`, through a client without a database selected; on a
/// cluster that client's server must be one of the cluster's (its `system.columns` is read).
pub async fn apply_layout(server: &clickhouse::Client, layout: &Layout) -> anyhow::Result<()> {
    let database = layout.database();
    let gated: u64 = server
        .query("SELECT count() FROM system.settings WHERE name = ?")
        .bind(LOW_CARDINALITY_SETTING)
        .fetch_one()
        .await
        .context("reading the server's settings")?;
    let server = &if gated > 0 {
        server.clone().with_setting(LOW_CARDINALITY_SETTING, "1")
    } else {
        server.clone()
    };
    for sql in layout.statements() {
        server
            .query(&sql)
            .execute()
            .await
            .with_context(|| format!("applying ClickHouse schema: {}", first_line(&sql)))?;
    }
    let table = layout.storage_table();
    let typed = columns(server, database, table).await?;
    let present: Vec<&str> = typed.iter().map(|(name, _)| name.as_str()).collect();
    let missing: Vec<&str> = EVENT_COLUMNS
        .iter()
        .copied()
        .filter(|column| !present.contains(column))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{database}.{table} lacks the columns {missing:?}: an older version created it; drop it \
         and restart the sink, which recreates it; events not stored yet are still on the stream"
    );
    for (column, single, cluster) in ADDED_COLUMNS {
        if !present.contains(column) {
            let alter = if layout.cluster().is_some() {
                cluster
            } else {
                single
            };
            server
                .query(&layout.fill(alter))
                .execute()
                .await
                .with_context(|| format!("adding the column {column} to {table}"))?;
        }
    }
    let plain: Vec<&str> = typed
        .iter()
        .filter(|(name, kind)| {
            LOW_CARDINALITY_COLUMNS.contains(&name.as_str()) && kind.as_str() == "String"
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if !plain.is_empty() {
        server
            .query(&layout.low_cardinality_alter(&plain))
            .execute()
            .await
            .with_context(|| format!("storing {table}'s dimensions as LowCardinality"))?;
    }
    if layout.cluster().is_some() {
        let local = columns(server, database, table).await?;
        let routed = columns(server, database, "events").await?;
        // The Distributed table must have every column of ours the shards have, with its type
        // (a column an operator added to the shards alone is theirs, and left alone).
        let ours = |name: &str| {
            EVENT_COLUMNS.contains(&name)
                || ADDED_COLUMNS.iter().any(|(added, _, _)| *added == name)
        };
        let stale = local
            .iter()
            .filter(|(name, _)| ours(name))
            .any(|column| !routed.contains(column));
        if stale {
            for sql in [
                "DROP TABLE IF EXISTS {db}.events ON CLUSTER {cluster}",
                DISTRIBUTED_TABLE,
            ] {
                server
                    .query(&layout.fill(sql))
                    .execute()
                    .await
                    .with_context(|| {
                        format!("recreating {database}.events: {}", first_line(sql))
                    })?;
            }
        }
    }
    Ok(())
}

/// The columns of `database.table` on the server `server` talks to: name and type.
async fn columns(
    server: &clickhouse::Client,
    database: &str,
    table: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    server
        .query("SELECT name, type FROM system.columns WHERE database = ? AND table = ?")
        .bind(database)
        .bind(table)
        .fetch_all()
        .await
        .with_context(|| format!("reading the columns of {database}.{table}"))
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
        assert!(cluster_statements("analytics", "bad name").is_err());
        assert!(cluster_statements("analytics", "x;y").is_err());
    }

    #[test]
    fn a_cluster_layout_creates_replicated_shards_behind_a_distributed_table() {
        let statements = cluster_statements("analytics", "events_2x1").expect("valid names");
        assert!(
            statements
                .iter()
                .all(|sql| sql.contains(" ON CLUSTER events_2x1"))
        );
        assert!(statements[1].contains(
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/analytics/events_local', \
             '{replica}', inserted_at)"
        ));
        assert!(
            statements[2].contains(
                "Distributed(events_2x1, analytics, events_local, cityHash64(distinct_id))"
            )
        );
        // The same columns, partitioning and sorting as the single table.
        let single = &self::statements("analytics").expect("valid")[1];
        let body = |sql: &str| {
            let start = sql.find("project_id UUID").unwrap_or(0);
            let end = sql.find("inserted_at DateTime").unwrap_or(sql.len());
            sql[start..end].to_owned()
        };
        assert_eq!(body(single), body(&statements[1]));
        assert_eq!(body(single), body(&statements[2]));
        assert!(statements[1].ends_with(events_storage!()));
        assert!(single.ends_with(events_storage!()));
        assert!(
            statements.iter().all(|sql| !sql.contains('?')),
            "no bind placeholders"
        );
    }
}
