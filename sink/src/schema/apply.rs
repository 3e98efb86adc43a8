//! Applying the schema to a server or cluster: the statements, then bringing a table an older
//! version created up to date (added columns, `LowCardinality` dimensions, a cluster's
//! `Distributed` table), then the event days and the sessions tables, each filled once from the
//! events stored before.

use anyhow::Context as _;

use crate::schema::layout::Layout;
use crate::schema::statements::{
    ADDED_COLUMNS, DISTRIBUTED_TABLE, EVENT_COLUMNS, LOW_CARDINALITY_COLUMNS,
    LOW_CARDINALITY_SETTING,
};

/// Applies every statement for `database` on one server, through a client without a database
/// selected.
pub async fn apply(server: &clickhouse::Client, database: &str) -> anyhow::Result<()> {
    apply_layout(server, &Layout::new(database, None)?).await
}

/// Applies every statement of `layout`, through a client without a database selected; on a
/// cluster that client's server must be one of the cluster's (its `system.columns` is read).
pub async fn apply_layout(server: &clickhouse::Client, layout: &Layout) -> anyhow::Result<()> {
    let database = layout.database();
    let server = &with_low_cardinality_allowed(server).await?;
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
    add_columns(server, layout, &present).await?;
    store_low_cardinality(server, layout, &typed).await?;
    if layout.cluster().is_some() {
        refresh_distributed(server, layout).await?;
    }
    // Last: the fills read the `Distributed` events table the step above may have created
    // again, and the sessions' view reads columns the steps above may have added.
    crate::schema::event_days::apply(server, layout).await?;
    crate::schema::sessions::apply(server, layout).await
}

/// `server`, sending [`LOW_CARDINALITY_SETTING`] with its DDL when it knows the setting.
async fn with_low_cardinality_allowed(
    server: &clickhouse::Client,
) -> anyhow::Result<clickhouse::Client> {
    let gated: u64 = server
        .query("SELECT count() FROM system.settings WHERE name = ?")
        .bind(LOW_CARDINALITY_SETTING)
        .fetch_one()
        .await
        .context("reading the server's settings")?;
    Ok(if gated > 0 {
        server.clone().with_setting(LOW_CARDINALITY_SETTING, "1")
    } else {
        server.clone()
    })
}

/// Adds the [`ADDED_COLUMNS`] the table lacks (`present` are the columns it has).
async fn add_columns(
    server: &clickhouse::Client,
    layout: &Layout,
    present: &[&str],
) -> anyhow::Result<()> {
    let table = layout.storage_table();
    for (column, alter) in column_additions(layout) {
        if !present.contains(&column) {
            server
                .query(&alter)
                .execute()
                .await
                .with_context(|| format!("adding the column {column} to {table}"))?;
        }
    }
    Ok(())
}

/// The `ALTER` that adds each column a later release added (of [`ADDED_COLUMNS`]) to the
/// table of `layout` holding the rows, by column name.
pub fn column_additions(layout: &Layout) -> Vec<(&'static str, String)> {
    ADDED_COLUMNS
        .iter()
        .map(|(column, single, cluster)| {
            let definition = if layout.cluster().is_some() {
                cluster
            } else {
                single
            };
            let alter = format!(
                "ALTER TABLE {}.{}{} ADD COLUMN {column} {definition}",
                layout.database(),
                layout.storage_table(),
                layout.on_cluster()
            );
            (*column, alter)
        })
        .collect()
}

/// Stores the [`LOW_CARDINALITY_COLUMNS`] still typed `String` (of the table's `typed`
/// columns) as `LowCardinality(String)`.
async fn store_low_cardinality(
    server: &clickhouse::Client,
    layout: &Layout,
    typed: &[(String, String)],
) -> anyhow::Result<()> {
    let plain: Vec<&str> = typed
        .iter()
        .filter(|(name, kind)| {
            LOW_CARDINALITY_COLUMNS.contains(&name.as_str()) && kind.as_str() == "String"
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if !plain.is_empty() {
        let table = layout.storage_table();
        server
            .query(&layout.low_cardinality_alter(&plain))
            .execute()
            .await
            .with_context(|| format!("storing {table}'s dimensions as LowCardinality"))?;
    }
    Ok(())
}

/// On a cluster, creates the `Distributed` table again when it lacks a column of ours the
/// shards have, or has it with another type.
async fn refresh_distributed(server: &clickhouse::Client, layout: &Layout) -> anyhow::Result<()> {
    let database = layout.database();
    let local = columns(server, database, layout.storage_table()).await?;
    let routed = columns(server, database, "events").await?;
    // The Distributed table must have every column of ours the shards have, with its type
    // (a column an operator added to the shards alone is theirs, and left alone).
    let ours = |name: &str| {
        EVENT_COLUMNS.contains(&name) || ADDED_COLUMNS.iter().any(|(added, _, _)| *added == name)
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
                .with_context(|| format!("recreating {database}.events: {}", first_line(sql)))?;
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
