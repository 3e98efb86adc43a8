//! Reads and writes of the events table: which rows it holds already, and inserting rows with
//! one INSERT per month they span, then moving the change counters of their days. The sink's
//! writer and `sink replay` both go through here.

use serde::Serialize;
use uuid::Uuid;

use crate::row::EventRow;

/// Rows per existence check: the event ids of one check stay well under ClickHouse's
/// default `max_query_size` (256 KiB).
const CHECK_CHUNK: usize = 4_000;

/// The event ids of `rows` that the table already holds. Bounded by the rows' projects and
/// days, the start of the sorting key, so ClickHouse reads only those index ranges.
pub(crate) async fn already_stored(
    clickhouse: &clickhouse::Client,
    rows: &[EventRow],
) -> Result<std::collections::HashSet<Uuid>, clickhouse::error::Error> {
    let mut stored = std::collections::HashSet::new();
    for chunk in rows.chunks(CHECK_CHUNK) {
        let distinct = |values: Vec<String>| {
            let mut values = values;
            values.sort_unstable();
            values.dedup();
            values
        };
        let projects = distinct(chunk.iter().map(|row| row.project_id.to_string()).collect());
        let days = distinct(chunk.iter().map(|row| day_text(row.date)).collect());
        let ids: Vec<String> = chunk.iter().map(|row| row.event_id.to_string()).collect();
        let placeholders = plumbing::clickhouse::placeholders;
        let sql = format!(
            "SELECT toString(event_id) FROM events WHERE project_id IN ({}) AND date IN ({}) \
             AND event_id IN ({})",
            placeholders(projects.len()),
            placeholders(days.len()),
            placeholders(ids.len())
        );
        let mut query = clickhouse.query(&sql);
        for value in projects.iter().chain(&days).chain(&ids) {
            query = query.bind(value.as_str());
        }
        for id in query.fetch_all::<String>().await? {
            if let Ok(id) = Uuid::parse_str(&id) {
                stored.insert(id);
            }
        }
    }
    Ok(stored)
}

/// `YYYY-MM-DD` of a ClickHouse `Date` (days since 1970-01-01).
pub(crate) fn day_text(days: u16) -> String {
    time::Date::from_julian_day(2_440_588 + i32::from(days))
        .map(|date| date.to_string())
        .unwrap_or_default()
}

/// Writes `rows` with one INSERT per month they span: the writer hands them over one month at
/// a time already, `sink replay` whatever its batch holds. A failure may leave the months
/// before it written.
pub(crate) async fn insert(
    clickhouse: &clickhouse::Client,
    rows: &[EventRow],
) -> Result<(), clickhouse::error::Error> {
    // What the events set on their persons goes first: a retry finds stored events and
    // writes them no more, so their person properties must be in by then.
    crate::persons::properties::insert(clickhouse, rows).await?;
    if crate::months::within_one(rows) {
        insert_month(clickhouse, rows.iter()).await?;
    } else {
        for month in crate::months::group(rows.iter().map(|row| (row.date, row))) {
            insert_month(clickhouse, month.into_iter()).await?;
        }
    }
    // Tried a few times: a day whose counter never moved keeps its sessions of before this
    // insert in a reader's cache until the day next changes.
    for attempt in 1..=MARK_ATTEMPTS {
        match mark_days_changed(clickhouse, rows).await {
            Ok(()) => break,
            Err(err) if attempt == MARK_ATTEMPTS => {
                tracing::warn!(error = %err, "cannot move the change counters of the days just written");
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await,
        }
    }
    Ok(())
}

/// Tries at moving the day counters after an insert.
const MARK_ATTEMPTS: u64 = 5;

/// One change of one day of a project, for `event_days` (`crate::schema::event_days`).
#[derive(Debug, clickhouse::Row, Serialize)]
struct DayChange {
    #[serde(with = "clickhouse::serde::uuid")]
    project_id: Uuid,
    date: u16,
    changes: u64,
}

/// Moves the change counter of every day of `rows` once their INSERTs returned, when the
/// sessions the view made of them are stored too. The view on `events` moves the counters as
/// well, but before the sessions' view has run (ClickHouse 18.16 runs a table's views one after
/// another, and a view's own inserts pass no further view), so a reader could see the counter
/// move and not yet the sessions, and keep a day without them; this second move comes after.
/// When ClickHouse refuses it, just after it took the events, the day's kept figures may lack
/// those sessions until the day's next change.
async fn mark_days_changed(
    clickhouse: &clickhouse::Client,
    rows: &[EventRow],
) -> Result<(), clickhouse::error::Error> {
    let mut days: Vec<(Uuid, u16)> = rows.iter().map(|row| (row.project_id, row.date)).collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return Ok(());
    }
    let mut insert = clickhouse.insert::<DayChange>("event_days").await?;
    for (project_id, date) in days {
        insert
            .write(&DayChange {
                project_id,
                date,
                changes: 1,
            })
            .await?;
    }
    insert.end().await
}

/// One INSERT of `rows`, all of one month.
async fn insert_month(
    clickhouse: &clickhouse::Client,
    rows: impl Iterator<Item = &EventRow>,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = clickhouse.insert::<EventRow>("events").await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_written_as_clickhouse_dates() {
        assert_eq!(day_text(0), "1970-01-01");
        assert_eq!(day_text(20_787), "2026-11-30");
    }
}
