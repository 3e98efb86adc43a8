//! The statements that create the events table, on one server or on a cluster's shards, and the
//! columns later versions added or retyped. `{db}` and `{cluster}` are filled in by the layout.

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
        country LowCardinality(String),
        region LowCardinality(String),
        city LowCardinality(String),
        utm_source LowCardinality(String),
        utm_medium LowCardinality(String),
        utm_campaign LowCardinality(String),
        utm_term String,
        utm_content String,
        channel LowCardinality(String),
        stream_sequence UInt64,
        inserted_at DateTime('UTC') DEFAULT now()"
    };
}

/// Partitioning and sorting of the table of engagements (`engagement`: the time on page and
/// scroll depth the trackers tell as a page is left, kept apart from the events). It has the
/// events' columns, so that a query's scope and filters read it as they read the events, and
/// copies of one engagement are one row as in `events`. It came after every one of
/// [`ADDED_COLUMNS`]: a release adding a column to the events must add it here as well (the
/// sink writes both from one row type).
macro_rules! engagement_storage {
    () => {
        "PARTITION BY toYYYYMM(date)
    ORDER BY (project_id, date, event_id)"
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
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.engagement (
        ",
        event_columns!(),
        ",
        user_hash UInt64 MATERIALIZED cityHash64(distinct_id)
    )
    ENGINE = ReplacingMergeTree(inserted_at)
    ",
        engagement_storage!()
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
pub(crate) const CLUSTER_STATEMENTS: &[&str] = &[
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
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.engagement_local ON CLUSTER {cluster} (
        ",
        event_columns!(),
        ",
        user_hash UInt64 DEFAULT cityHash64(distinct_id)
    )
    ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{db}/engagement_local', '{replica}', inserted_at)
    ",
        engagement_storage!()
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.engagement ON CLUSTER {cluster} (
        ",
        event_columns!(),
        ",
        user_hash UInt64 DEFAULT cityHash64(distinct_id)
    )
    ENGINE = Distributed({cluster}, {db}, engagement_local, cityHash64(distinct_id))"
    ),
];

/// The `Distributed` table of a cluster. It holds no rows (the sink inserts synchronously), so
/// a migration may drop it and create it again.
pub(crate) const DISTRIBUTED_TABLE: &str = concat!(
    "CREATE TABLE IF NOT EXISTS {db}.events ON CLUSTER {cluster} (
        ",
    event_columns!(),
    ",
        user_hash UInt64 DEFAULT cityHash64(distinct_id)
    )
    ENGINE = Distributed({cluster}, {db}, events_local, cityHash64(distinct_id))"
);

/// Columns added after the table was first released: name, its definition on one server, and
/// on every shard's `events_local` (`ALTER TABLE … ADD COLUMN <name> <definition>`; ClickHouse
/// 18.16 has no `ADD COLUMN IF NOT EXISTS`, so `apply` checks first). Each goes where a new
/// table has it (`AFTER`), so old and new tables list their columns in one order. Parts
/// written before compute them on read until they are merged. A cluster's `Distributed` table
/// is created again instead: 18.16 refuses `ALTER … ON CLUSTER` on a table that is not
/// replicated when the cluster's shards are (`internal_replication`), and that table holds no
/// rows to keep.
pub(crate) const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "user_hash",
        "UInt64 MATERIALIZED cityHash64(distinct_id)",
        "UInt64 DEFAULT cityHash64(distinct_id)",
    ),
    // Location and acquisition (empty in rows stored before).
    (
        "country",
        "LowCardinality(String) AFTER is_bot",
        "LowCardinality(String) AFTER is_bot",
    ),
    (
        "region",
        "LowCardinality(String) AFTER country",
        "LowCardinality(String) AFTER country",
    ),
    (
        "city",
        "LowCardinality(String) AFTER region",
        "LowCardinality(String) AFTER region",
    ),
    (
        "utm_source",
        "LowCardinality(String) AFTER city",
        "LowCardinality(String) AFTER city",
    ),
    (
        "utm_medium",
        "LowCardinality(String) AFTER utm_source",
        "LowCardinality(String) AFTER utm_source",
    ),
    (
        "utm_campaign",
        "LowCardinality(String) AFTER utm_medium",
        "LowCardinality(String) AFTER utm_medium",
    ),
    (
        "utm_term",
        "String AFTER utm_campaign",
        "String AFTER utm_campaign",
    ),
    (
        "utm_content",
        "String AFTER utm_term",
        "String AFTER utm_term",
    ),
    (
        "channel",
        "LowCardinality(String) AFTER utm_content",
        "LowCardinality(String) AFTER utm_content",
    ),
];

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
    "country",
    "region",
    "city",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "channel",
];

/// The setting ClickHouse 18.x requires for DDL that creates `LowCardinality` columns (then
/// experimental). Current servers no longer know it and refuse it, so [`apply_layout`](crate::schema::apply_layout) sends
/// it only to a server that lists it in `system.settings`.
pub(crate) const LOW_CARDINALITY_SETTING: &str = "allow_experimental_low_cardinality_type";

/// The columns the sink writes, which an existing table must have.
pub(crate) const EVENT_COLUMNS: &[&str] = &[
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

#[cfg(test)]
mod tests {
    use crate::schema::layout::is_valid_database_name;
    use crate::schema::{cluster_statements, statements};

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
        let single = &crate::schema::statements("analytics").expect("valid")[1];
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
