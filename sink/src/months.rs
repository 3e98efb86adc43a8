//! The months a batch spans. The events table is partitioned by `toYYYYMM(date)` (see
//! [`crate::schema`]), and current ClickHouse refuses an INSERT whose rows fall into more than
//! `max_partitions_per_insert_block` (100) partitions. Events keep the timestamps they were sent
//! with, so an import of old events can span years; the sink therefore writes a batch with one
//! INSERT per month. ClickHouse writes one part per partition of an INSERT anyway, so this costs
//! a request per month but no extra parts.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::row::EventRow;

/// Julian day of 1970-01-01, the day a ClickHouse `Date` counts from.
const EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// The calendar date of a ClickHouse `Date` (days since 1970-01-01). Every `u16` is a valid
/// day (the last is 2149-06-06), so the fallback is never taken.
fn calendar(date: u16) -> time::Date {
    time::Date::from_julian_day(EPOCH_JULIAN_DAY + i32::from(date)).unwrap_or(time::Date::MIN)
}

/// The partition ClickHouse stores a row of `date` in: `toYYYYMM(date)`, e.g. 202611. `Date`
/// has no time zone; the sink derives it from the event's timestamp in UTC.
pub(crate) fn partition(date: u16) -> u32 {
    let day = calendar(date);
    u32::try_from(day.year()).unwrap_or_default() * 100 + u32::from(u8::from(day.month()))
}

/// The days (as ClickHouse `Date` values, widened so the last month's end fits) of the month
/// holding `date`.
fn month_of(date: u16) -> Range<u32> {
    let day = calendar(date);
    let first = u32::from(date) + 1 - u32::from(day.day());
    first..first + u32::from(day.month().length(day.year()))
}

/// All of `rows` fall into one month, which is what a live stream sends: one comparison per
/// row, so the steady state pays next to nothing for the split.
pub(crate) fn within_one(rows: &[EventRow]) -> bool {
    let Some(first) = rows.first() else {
        return true;
    };
    let month = month_of(first.date);
    rows.iter().all(|row| month.contains(&u32::from(row.date)))
}

/// `items` (each with the date of its row) as one part per month, oldest month first, each
/// keeping the order the items came in.
pub(crate) fn group<T>(items: impl IntoIterator<Item = (u16, T)>) -> Vec<Vec<T>> {
    let mut parts: BTreeMap<u32, Vec<T>> = BTreeMap::new();
    for (date, item) in items {
        parts.entry(partition(date)).or_default().push(item);
    }
    parts.into_values().collect()
}

/// `rows` and their `messages` (in the same order) as one part per month, oldest month first,
/// each keeping the order it had in the batch. A batch within one month is returned as it came,
/// nothing moved.
pub(crate) fn split<M>(rows: Vec<EventRow>, messages: Vec<M>) -> Vec<(Vec<EventRow>, Vec<M>)> {
    if rows.is_empty() {
        return Vec::new();
    }
    if within_one(&rows) {
        return vec![(rows, messages)];
    }
    let dated = rows
        .into_iter()
        .zip(messages)
        .map(|pair| (pair.0.date, pair));
    group(dated)
        .into_iter()
        .map(|part| part.into_iter().unzip())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of an event at `at` (`YYYY-MM-DDTHH:MM:SSZ`).
    fn row(at: &str) -> EventRow {
        let timestamp =
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .expect("a test timestamp");
        let event = contract::event::Event {
            event_id: uuid::Uuid::now_v7(),
            project_id: uuid::Uuid::now_v7(),
            kind: contract::event::EventKind::Track,
            event: at.to_owned(),
            distinct_id: "u".to_owned(),
            user_id: None,
            session_id: None,
            timestamp,
            received_at: timestamp,
            properties: serde_json::Map::new(),
            context: contract::event::EventContext::default(),
        };
        EventRow::new(event, 0)
    }

    #[test]
    fn partitions_are_the_utc_months_of_clickhouse_dates() {
        assert_eq!(partition(0), 197_001);
        assert_eq!(partition(20_787), 202_611, "2026-11-30");
        assert_eq!(partition(20_788), 202_612, "2026-12-01");
        assert_eq!(partition(u16::MAX), 214_906, "2149-06-06, the last Date");
        assert_eq!(partition(row("2013-06-30T23:59:59Z").date), 201_306);
        assert_eq!(partition(row("2013-07-01T00:00:00Z").date), 201_307);
        assert_eq!(month_of(20_787), 20_758..20_788, "November 2026");
        assert_eq!(month_of(u16::MAX), 65_530..65_560, "June 2149");
    }

    /// The partition of every `Date` as current ClickHouse (chdb) computes `toYYYYMM(date)`
    /// for the table, and as ClickHouse 18.16 does up to 2106-02-07, the last day of its date
    /// tables (later dates fold back to 1970 there) and of a `DateTime` (u32 seconds).
    #[test]
    fn partitions_are_what_both_clickhouse_versions_compute() {
        let sql = |days: u32| {
            format!(
                "SELECT toYYYYMM(toDate('1970-01-01') + number) FROM numbers({days}) \
                 ORDER BY number"
            )
        };
        let ours = |days: u32| -> Vec<String> {
            (0..days)
                .map(|date| partition(u16::try_from(date).expect("a Date")).to_string())
                .collect()
        };
        let lines = |tsv: String| -> Vec<String> { tsv.lines().map(str::to_owned).collect() };
        let last_of_18_16 = 49_710;
        let old = devstack::test::clickhouse()
            .query(&sql(last_of_18_16 + 1))
            .expect("ClickHouse 18.16");
        assert!(lines(old) == ours(last_of_18_16 + 1), "18.16 differs");
        let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
        let current = chdb.query(&sql(1 << 16)).expect("chdb");
        assert!(lines(current) == ours(1 << 16), "chdb differs");
    }

    #[test]
    fn a_batch_within_one_month_is_one_part_left_where_it_was() {
        let rows: Vec<EventRow> = ["2026-12-01T00:00:00Z", "2026-12-31T23:59:59Z"]
            .iter()
            .map(|at| row(at))
            .collect();
        let buffer = rows.as_ptr();
        let parts = split(rows, vec![1, 2]);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].1, [1, 2]);
        assert_eq!(parts[0].0.as_ptr(), buffer, "the rows were not moved");
        assert!(split(Vec::new(), Vec::<u8>::new()).is_empty());
    }

    #[test]
    fn rows_held_by_reference_are_grouped_by_month_in_their_order() {
        let rows: Vec<EventRow> = [
            "2026-11-30T23:59:59Z",
            "2026-12-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
        ]
        .iter()
        .map(|at| row(at))
        .collect();
        assert!(!within_one(&rows));
        assert!(within_one(&rows[1..2]) && within_one(&[]));
        let months = group(rows.iter().map(|row| (row.date, row)));
        let events: Vec<Vec<&str>> = months
            .iter()
            .map(|month| month.iter().map(|row| row.event.as_str()).collect())
            .collect();
        assert_eq!(
            events,
            [
                vec!["2026-11-30T23:59:59Z", "2026-11-01T00:00:00Z"],
                vec!["2026-12-01T00:00:00Z"]
            ]
        );
    }

    #[test]
    fn a_batch_over_many_months_is_one_part_per_month_in_batch_order() {
        // 150 months from June 2013, each with its first and last second, the batch newest
        // first; and one more row of the first month at the end.
        let mut ats = Vec::new();
        for index in (0..150).rev() {
            let year = 2013 + (5 + index) / 12;
            let number = u8::try_from((5 + index) % 12 + 1).expect("1 to 12");
            let last = time::Month::try_from(number).expect("a month").length(year);
            ats.push(format!("{year}-{number:02}-01T00:00:00Z"));
            ats.push(format!("{year}-{number:02}-{last}T23:59:59Z"));
        }
        ats.push("2013-06-15T12:00:00Z".to_owned());
        let rows: Vec<EventRow> = ats.iter().map(|at| row(at)).collect();
        let order: Vec<usize> = (0..rows.len()).collect();
        let parts = split(rows, order);

        assert_eq!(parts.len(), 150);
        let months: Vec<u32> = parts
            .iter()
            .map(|(rows, _)| partition(rows[0].date))
            .collect();
        assert_eq!((months[0], months[149]), (201_306, 202_511));
        assert!(
            months.windows(2).all(|pair| pair[0] < pair[1]),
            "oldest first"
        );
        for (rows, messages) in &parts {
            assert_eq!(rows.len(), messages.len());
            assert!(
                rows.iter()
                    .all(|r| partition(r.date) == partition(rows[0].date))
            );
            assert!(
                messages.windows(2).all(|pair| pair[0] < pair[1]),
                "batch order kept"
            );
            // Each message still belongs to its row.
            for (row, index) in rows.iter().zip(messages) {
                assert_eq!(row.event, ats[*index]);
            }
        }
        assert_eq!(parts[0].0.len(), 3, "June 2013 has the extra row");
        assert_eq!(parts.iter().map(|(rows, _)| rows.len()).sum::<usize>(), 301);
    }
}
