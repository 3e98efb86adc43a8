//! `sink retention <days>`: drops the monthly partitions of `events` whose every day is older
//! than the age kept. Dropping a partition is instant and frees its disk at once; a month that
//! still holds a day inside the age is kept whole (deleting single days would be a mutation that
//! rewrites the month).

use anyhow::Context as _;

/// Drops every partition whose newest day is more than `keep_days` before `today` (days since
/// 1970-01-01); returns the partition ids dropped (`YYYYMM`).
pub async fn drop_older_than(
    client: &clickhouse::Client,
    database: &str,
    keep_days: u16,
    today: u16,
) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(
        crate::schema::is_valid_database_name(database),
        "CLICKHOUSE_DB {database:?} is not a plain identifier"
    );
    let cutoff = today.saturating_sub(keep_days);
    let old: Vec<String> = client
        .query(
            "SELECT partition FROM system.parts \
             WHERE database = ? AND table = 'events' AND active \
             GROUP BY partition HAVING toUInt16(max(max_date)) < ? ORDER BY partition",
        )
        .bind(database)
        .bind(cutoff)
        .fetch_all()
        .await
        .context("reading the partitions of events")?;
    let mut dropped = Vec::new();
    for partition in old {
        let month: u32 = partition
            .parse()
            .with_context(|| format!("partition {partition:?} is not a month"))?;
        client
            .query(&format!("ALTER TABLE {database}.events DROP PARTITION ?"))
            .bind(month)
            .execute()
            .await
            .with_context(|| format!("dropping partition {month}"))?;
        dropped.push(partition);
    }
    Ok(dropped)
}
