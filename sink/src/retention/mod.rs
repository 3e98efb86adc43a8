//! `sink retention <days>`: drops the monthly partitions of `events` whose every day is older
//! than the age kept. Dropping a partition is instant and frees its disk at once; a month that
//! still holds a day inside the age is kept whole (deleting single days would be a mutation that
//! rewrites the month). The same months of `sessions`, `engagement` and `event_days` go too. On
//! a cluster the partitions are those of every shard's `events_local` (and `sessions_local`,
//! `event_days_local`), dropped `ON CLUSTER`. A project may keep fewer months than that: its
//! older rows are deleted too ([`projects`]).

pub mod projects;

use anyhow::Context as _;

use crate::schema::Layout;

/// Drops every partition whose newest day is more than `keep_days` before `today` (days since
/// 1970-01-01); returns the partition ids dropped (`YYYYMM`).
pub async fn drop_older_than(
    client: &clickhouse::Client,
    database: &str,
    keep_days: u16,
    today: u16,
) -> anyhow::Result<Vec<String>> {
    drop_older_than_in(client, &Layout::new(database, None)?, keep_days, today).await
}

/// [`drop_older_than`] for the events of `layout`, on one server or a cluster.
pub async fn drop_older_than_in(
    client: &clickhouse::Client,
    layout: &Layout,
    keep_days: u16,
    today: u16,
) -> anyhow::Result<Vec<String>> {
    let cutoff = today.saturating_sub(keep_days);
    let table = layout.storage_table();
    let local = |name: &str| match layout.cluster() {
        Some(_) => format!("{name}_local"),
        None => name.to_owned(),
    };
    let (sessions, days) = (local("sessions"), local("event_days"));
    let engagement = local("engagement");
    // A shard may hold a month the others lack: the parts of the whole cluster count, one
    // replica per shard (`cluster()`; `clusterAllReplicas` is newer than 18.16). The counters'
    // months count as well (their partition key is a day too), so that a month whose events
    // went in a run cut short before its counters is found again, and so do the engagements'
    // (a month may hold some and no event).
    let parts = match layout.cluster() {
        Some(cluster) => format!("cluster('{cluster}', system, parts)"),
        None => "system.parts".to_owned(),
    };
    let old: Vec<String> = client
        .query(&format!(
            "SELECT partition FROM {parts} \
             WHERE database = ? AND table IN (?, ?, ?) AND active \
             GROUP BY partition HAVING toUInt16(max(max_date)) < ? ORDER BY partition"
        ))
        .bind(layout.database())
        .bind(table)
        .bind(engagement.as_str())
        .bind(days.as_str())
        .bind(cutoff)
        .fetch_all()
        .await
        .with_context(|| format!("reading the partitions of {table}"))?;
    let mut dropped = Vec::new();
    for partition in old {
        let month: u32 = partition
            .parse()
            .with_context(|| format!("partition {partition:?} is not a month"))?;
        // The sessions of those events go with them (their partitions are months of the same
        // events), before the events: a run cut short between the two leaves no sessions whose
        // events are gone for good. The counters go after the events, so that a reader who
        // sees a day's counter change finds its events gone.
        for table in [sessions.as_str(), engagement.as_str(), table, days.as_str()] {
            client
                .query(&format!(
                    "ALTER TABLE {}.{table}{} DROP PARTITION ?",
                    layout.database(),
                    layout.on_cluster()
                ))
                .bind(month)
                .execute()
                .await
                .with_context(|| format!("dropping partition {month} of {table}"))?;
        }
        dropped.push(partition);
    }
    Ok(dropped)
}
