//! The ClickHouse tables of persons: `person_ids`, the mapping of distinct ids to persons that
//! the sink projects from the identity links on `PERSONS`, and `person_properties`, the values
//! events set on their person (`$set`, `$set_once`, Segment traits). On one server or, like
//! the events, on a cluster's shards behind a `Distributed` table, sharded by the hash of
//! `distinct_id`. `{db}` and `{cluster}` are filled in by the layout.

/// The columns of `person_ids`. `person_hash` is computed from `person_key` where the row is
/// inserted (the sink never sends it): it equals `events.user_hash` of the person's canonical
/// id, so queries count persons as they count users.
macro_rules! person_ids_columns {
    () => {
        "project_id UUID,
        distinct_id String,
        person_id UUID,
        person_key String,
        person_hash UInt64 DEFAULT cityHash64(person_key),
        version UInt64,
        is_deleted UInt8"
    };
}

/// The columns of `person_properties`.
macro_rules! person_properties_columns {
    () => {
        "project_id UUID,
        distinct_id String,
        key String,
        value String,
        timestamp DateTime('UTC'),
        set_once UInt8,
        event_id UUID"
    };
}

/// The tables on one server, after the events table's statements. Only linked ids have rows
/// in `person_ids`, the latest `version` (the stream sequence of the link that wrote it) of a
/// distinct id winning. A property row is one key an event set; a copy of the event writes
/// the same row, merged away.
pub(crate) const PERSON_STATEMENTS: &[&str] = &[
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.person_ids (
        ",
        person_ids_columns!(),
        "
    )
    ENGINE = ReplacingMergeTree(version)
    ORDER BY (project_id, distinct_id)"
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.person_properties (
        ",
        person_properties_columns!(),
        "
    )
    ENGINE = ReplacingMergeTree
    ORDER BY (project_id, distinct_id, key, set_once, event_id)"
    ),
];

/// The tables on a cluster: each shard's `<name>_local`, replicated, behind a `Distributed`
/// `<name>` that the sink writes (synchronously) and query reads.
pub(crate) const PERSON_CLUSTER_STATEMENTS: &[&str] = &[
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.person_ids_local ON CLUSTER {cluster} (
        ",
        person_ids_columns!(),
        "
    )
    ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{db}/person_ids_local', '{replica}', version)
    ORDER BY (project_id, distinct_id)"
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.person_ids ON CLUSTER {cluster} (
        ",
        person_ids_columns!(),
        "
    )
    ENGINE = Distributed({cluster}, {db}, person_ids_local, cityHash64(distinct_id))"
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.person_properties_local ON CLUSTER {cluster} (
        ",
        person_properties_columns!(),
        "
    )
    ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{db}/person_properties_local', '{replica}')
    ORDER BY (project_id, distinct_id, key, set_once, event_id)"
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.person_properties ON CLUSTER {cluster} (
        ",
        person_properties_columns!(),
        "
    )
    ENGINE = Distributed({cluster}, {db}, person_properties_local, cityHash64(distinct_id))"
    ),
];

/// The table holding `person_ids`' rows: `person_ids`, or each shard's `person_ids_local`.
pub(crate) fn person_ids_storage(cluster: Option<&str>) -> &'static str {
    if cluster.is_some() {
        "person_ids_local"
    } else {
        "person_ids"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_create_the_same_columns_and_every_cluster_statement_runs_everywhere() {
        for sql in PERSON_CLUSTER_STATEMENTS {
            assert!(sql.contains(" ON CLUSTER {cluster}"), "{sql}");
        }
        let columns = |sql: &str| {
            let start = sql.find("project_id UUID").unwrap_or(0);
            let end = sql.find("\n    )").unwrap_or(sql.len());
            sql[start..end].to_owned()
        };
        assert_eq!(
            columns(PERSON_STATEMENTS[0]),
            columns(PERSON_CLUSTER_STATEMENTS[0])
        );
        assert_eq!(
            columns(PERSON_STATEMENTS[0]),
            columns(PERSON_CLUSTER_STATEMENTS[1])
        );
        assert_eq!(
            columns(PERSON_STATEMENTS[1]),
            columns(PERSON_CLUSTER_STATEMENTS[2])
        );
        assert_eq!(
            columns(PERSON_STATEMENTS[1]),
            columns(PERSON_CLUSTER_STATEMENTS[3])
        );
        assert_eq!(person_ids_storage(Some("c")), "person_ids_local");
        assert_eq!(person_ids_storage(None), "person_ids");
    }
}
