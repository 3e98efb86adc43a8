//! Where the events live: a database on one server, or on the shards of a cluster, with the
//! names checked once for splicing into DDL.

use crate::schema::persons::{PERSON_CLUSTER_STATEMENTS, PERSON_STATEMENTS};
use crate::schema::statements::{CLUSTER_STATEMENTS, STATEMENTS};

/// `name` is usable as a database name without quoting: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_valid_database_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name` can stand unquoted in SQL as a cluster name: `[A-Za-z0-9_]+` (what
/// `plumbing::config` accepts for `CLICKHOUSE_CLUSTER`).
fn is_valid_cluster_name(name: &str) -> bool {
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
    pub(crate) fn fill(&self, sql: &str) -> String {
        sql.replace("{db}", &self.database)
            .replace("{cluster}", self.cluster.as_deref().unwrap_or_default())
    }

    /// The `ALTER` that stores `columns` (of [`LOW_CARDINALITY_COLUMNS`](crate::schema::LOW_CARDINALITY_COLUMNS)) of the table holding
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

    /// The schema's statements for this layout: the events table's, then the persons'.
    pub fn statements(&self) -> Vec<String> {
        let (events, persons) = if self.cluster.is_some() {
            (CLUSTER_STATEMENTS, PERSON_CLUSTER_STATEMENTS)
        } else {
            (STATEMENTS, PERSON_STATEMENTS)
        };
        events
            .iter()
            .chain(persons)
            .map(|sql| self.fill(sql))
            .collect()
    }
}
