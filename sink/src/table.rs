//! Reads and writes of the events table: which rows it holds already, and inserting rows with
//! one INSERT per month they span, then moving the change counters of their days. The sink's
//! writer and `sink replay` both go through here.

use serde::Serialize;
use uuid::Uuid;

use crate::row::EventRow;

/// Rows per existence check: the event ids of one check stay well under ClickHouse's
/// default `max_query_size` (256 KiB).
const CHECK_CHUNK: usize = 4_000;

/// Bytes of text the event names of one existence check may take, each at its longest (every
/// character escaped, quotes and a comma around it): beyond that (thousands of long names in
/// one chunk) the check leaves them out, reading more of its days, so that its text stays
/// under `max_query_size` beside the ids (160 KB of them).
const CHECK_NAME_BYTES: usize = 48 << 10;

/// The event ids of `rows` that the table already holds. Bounded by the rows' projects, days
/// and event names, all of the events table's sorting key before the event id, so ClickHouse
/// reads only those index ranges: a lookup costs the rows' granules, not a scan of their days'
/// event ids (the engagements' key has no name; there it only filters). Every copy of an event
/// has its name: ingest takes it as the client sent it, and a retry sends the same event.
pub(crate) async fn already_stored(
    clickhouse: &clickhouse::Client,
    rows: &[impl std::borrow::Borrow<EventRow>],
) -> Result<std::collections::HashSet<Uuid>, clickhouse::error::Error> {
    let mut stored = std::collections::HashSet::new();
    let (engaged, events): (Vec<&EventRow>, Vec<&EventRow>) = rows
        .iter()
        .map(std::borrow::Borrow::borrow)
        .partition(|row| is_engagement(row));
    for (table, rows) in [(EVENTS_TABLE, events), (ENGAGEMENT_TABLE, engaged)] {
        stored_in(clickhouse, table, &rows, &mut stored).await?;
    }
    Ok(stored)
}

/// Adds the event ids of `rows` that `table` holds to `stored`.
async fn stored_in(
    clickhouse: &clickhouse::Client,
    table: &str,
    rows: &[&EventRow],
    stored: &mut std::collections::HashSet<Uuid>,
) -> Result<(), clickhouse::error::Error> {
    for chunk in rows.chunks(CHECK_CHUNK) {
        let distinct = |values: Vec<String>| {
            let mut values = values;
            values.sort_unstable();
            values.dedup();
            values
        };
        let projects = distinct(chunk.iter().map(|row| row.project_id.to_string()).collect());
        let days = distinct(chunk.iter().map(|row| day_text(row.date)).collect());
        let mut names = distinct(chunk.iter().map(|row| row.event.clone()).collect());
        if names.iter().map(|name| name.len() * 2 + 4).sum::<usize>() > CHECK_NAME_BYTES {
            names.clear();
        }
        let ids: Vec<String> = chunk.iter().map(|row| row.event_id.to_string()).collect();
        let placeholders = plumbing::clickhouse::placeholders;
        let sql = format!(
            "SELECT toString(event_id) FROM {table} WHERE project_id IN ({}) AND date IN ({}){} \
             AND event_id IN ({})",
            placeholders(projects.len()),
            placeholders(days.len()),
            if names.is_empty() {
                String::new()
            } else {
                format!(" AND event IN ({})", placeholders(names.len()))
            },
            placeholders(ids.len())
        );
        let mut query = clickhouse.query(&sql);
        for value in projects.iter().chain(&days).chain(&names).chain(&ids) {
            query = query.bind(value.as_str());
        }
        for id in query.fetch_all::<String>().await? {
            if let Ok(id) = Uuid::parse_str(&id) {
                stored.insert(id);
            }
        }
    }
    Ok(())
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
    let engagements = rows.iter().filter(|row| is_engagement(row)).count();
    if engagements == 0 && crate::months::within_one(rows) {
        insert_month(clickhouse, EVENTS_TABLE, rows.iter()).await?;
    } else if engagements == 0 {
        insert_months(clickhouse, EVENTS_TABLE, rows).await?;
    } else {
        let (engaged, events): (Vec<&EventRow>, Vec<&EventRow>) =
            rows.iter().partition(|row| is_engagement(row));
        insert_months(clickhouse, EVENTS_TABLE, events).await?;
        insert_months(clickhouse, ENGAGEMENT_TABLE, engaged).await?;
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

/// Where events are stored.
const EVENTS_TABLE: &str = "events";

/// Where engagements are stored, apart from the events (`crate::schema`'s statements): the
/// time on page and scroll depth of the page views they follow, no events of their own.
pub(crate) const ENGAGEMENT_TABLE: &str = "engagement";

/// Whether `row` is an engagement ([`contract::event::EventKind::Engagement`]).
fn is_engagement(row: &EventRow) -> bool {
    row.kind == contract::event::EventKind::Engagement.as_str()
}

/// `rows` into `table`, one INSERT per month they span.
async fn insert_months<'a>(
    clickhouse: &clickhouse::Client,
    table: &str,
    rows: impl IntoIterator<Item = &'a EventRow>,
) -> Result<(), clickhouse::error::Error> {
    for month in crate::months::group(rows.into_iter().map(|row| (row.date, row))) {
        insert_month(clickhouse, table, month.into_iter()).await?;
    }
    Ok(())
}

/// One INSERT of `rows` into `table`, all of one month.
async fn insert_month<'a>(
    clickhouse: &clickhouse::Client,
    table: &str,
    rows: impl Iterator<Item = &'a EventRow>,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = clickhouse.insert::<EventRow>(table).await?;
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
