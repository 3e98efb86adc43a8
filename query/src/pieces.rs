//! Pieces of a period, each within one UTC day ([`Slice`]): a whole day is one piece, the day a
//! period starts or ends in is cut where it does. Figures of whole days can be kept between
//! requests, checked against the day's change counter ([`Counters`]: `event_days`, which the
//! sink moves on every insert into a day and on every erasure); a cut piece is read each time.
//! [`Pieces`] writes the SQL that groups rows by piece in one statement: the whole days by their
//! date, the cut ones by which piece's bounds hold the row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{Error, clickhouse_code};
use crate::store::Store;

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// Days one statement of kept days reads, at most: a week of a project of 100 M events in 60
/// days takes one to two seconds, well within `max_execution_time`.
pub(crate) const DAYS_PER_READ: usize = 7;

/// A piece of a period within one UTC day: `[from, to)` in seconds since the epoch, `day` the
/// days since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Slice {
    pub(crate) day: i64,
    pub(crate) from: i64,
    pub(crate) to: i64,
}

impl Slice {
    /// Whether the piece is its whole day, whose figures do not depend on where a period cuts.
    pub(crate) fn whole(&self) -> bool {
        self.from == self.day * DAY && self.to == (self.day + 1) * DAY
    }
}

/// `[from, to)` cut at every UTC midnight.
pub(crate) fn split(from: i64, to: i64) -> Vec<Slice> {
    let mut slices = Vec::new();
    let mut at = from;
    while at < to {
        let day = at.div_euclid(DAY);
        let end = ((day + 1) * DAY).min(to);
        slices.push(Slice {
            day,
            from: at,
            to: end,
        });
        at = end;
    }
    slices
}

/// Per day from the first to the last (bound as seconds), the counter of the changes of its
/// events (`event_days`, kept by the sink: every insert and every erasure moves it).
const CHANGES: &str = "SELECT toUInt16(date) AS day, sum(changes) AS changes FROM event_days \
     WHERE project_id = toUUID(?) AND date >= toDate(toDateTime(?), 'UTC') \
     AND date <= toDate(toDateTime(?), 'UTC') GROUP BY day";

#[derive(Debug, Row, Deserialize)]
struct ChangesRow {
    day: u16,
    changes: u64,
}

/// The SQL of a set of pieces: which cut piece a time is in, and the days to read.
pub(crate) struct Pieces<'a> {
    slices: &'a [Slice],
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(slices: &'a [Slice]) -> Self {
        Self { slices }
    }

    fn cut(&self) -> impl Iterator<Item = &Slice> {
        self.slices.iter().filter(|slice| !slice.whole())
    }

    /// `multiIf` over the cut pieces of `column` (a `DateTime`): the piece's place among them,
    /// from 1; 0 when in none. [`Self::bind_cut`] binds it.
    fn part(&self, column: &str) -> String {
        let conditions: Vec<String> = self
            .cut()
            .enumerate()
            .map(|(index, _)| {
                format!(
                    "{column} >= toDateTime(?) AND {column} < toDateTime(?), {}",
                    index + 1
                )
            })
            .collect();
        if conditions.is_empty() {
            "toUInt8(0)".to_owned()
        } else {
            format!("multiIf({}, 0)", conditions.join(", "))
        }
    }

    /// Placeholders for `count` days (bound as seconds).
    fn days(count: usize) -> String {
        vec!["toDate(toDateTime(?), 'UTC')"; count].join(", ")
    }

    fn whole_days(&self) -> Vec<i64> {
        self.slices
            .iter()
            .filter(|slice| slice.whole())
            .map(|slice| slice.day)
            .collect()
    }

    /// The statement `template` for these pieces, reading `days`: `{part}` is which cut piece
    /// a row is in (of `column`), `{days}` the days read, `{whole}` the whole days (for a
    /// `HAVING part > 0 OR day IN ({whole})`), `{bots}` is replaced by `bots`.
    pub(crate) fn sql(&self, template: &str, column: &str, days: usize, bots: &str) -> String {
        template
            .replace("{part}", &self.part(column))
            .replace("{days}", &Self::days(days))
            .replace(
                "{whole}",
                &plumbing::clickhouse::placeholders(self.whole_days().len().max(1)),
            )
            .replace("{bots}", bots)
    }

    /// Which piece a row (its `part` and `day`) is about.
    pub(crate) fn slice_of(&self, part: u8, day: u16) -> Option<Slice> {
        if part > 0 {
            self.cut().nth(usize::from(part) - 1).copied()
        } else {
            self.slices
                .iter()
                .find(|slice| slice.whole() && slice.day == i64::from(day))
                .copied()
        }
    }

    /// Binds the cut pieces' bounds, `{part}`'s.
    pub(crate) fn bind_cut(&self, mut query: clickhouse::query::Query) -> clickhouse::query::Query {
        for slice in self.cut() {
            query = query.bind(slice.from).bind(slice.to);
        }
        query
    }

    /// Binds the whole days, `{whole}`'s.
    pub(crate) fn bind_whole(
        &self,
        mut query: clickhouse::query::Query,
    ) -> clickhouse::query::Query {
        let whole = self.whole_days();
        if whole.is_empty() {
            // No day is this one (the year 2149).
            return query.bind(u16::MAX);
        }
        for day in whole {
            query = query.bind(day);
        }
        query
    }

    /// Binds the cut pieces' bounds (they come first, in `{part}`), the project, `days` and
    /// the whole days, in the order the overview's statements hold them.
    pub(crate) fn bind_after_project(
        &self,
        query: clickhouse::query::Query,
        project: Uuid,
        days: &[i64],
    ) -> clickhouse::query::Query {
        let query = self.bind_cut(query).bind(project.to_string());
        self.bind_whole(bind_days(query, days))
    }
}

/// Shapes remembered as too fine to keep, at most; past it they are forgotten.
const MAX_TOO_FINE: usize = 10_000;

/// How long a shape found too fine is read from the events before its days are tried again:
/// a timeout may have been a busy moment, and a project's days may shrink (retention, erasure).
/// Trying again costs one statement of kept days an hour.
const RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// How long the other calls of a shape tried again keep reading the events while one call
/// tries its days: a cold call over a month of a large project takes tens of seconds.
const RETRYING: Duration = Duration::from_secs(60);

/// TOO_MANY_ROWS: ClickHouse stopped grouping at `max_rows_to_group_by`.
const TOO_MANY_ROWS: u32 = 158;

/// The shapes (the text of everything a kept read reads but its range) whose days hold too
/// much to keep, or could not be read in time: read from the events for [`RETRY_AFTER`] from
/// when that was found, without trying again.
#[derive(Debug, Clone, Default)]
pub(crate) struct TooFine(Arc<Mutex<HashMap<Arc<str>, Instant>>>);

impl TooFine {
    /// Whether `shape` was found too fine to keep within the last [`RETRY_AFTER`]. Past it,
    /// one call (this one) tries the days again, and the others read the events for
    /// [`RETRYING`] more, unless it kept them ([`Self::remove`]).
    pub(crate) fn contains(&self, shape: &Arc<str>) -> bool {
        let mut shapes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match shapes.get_mut(shape) {
            None => false,
            Some(found) if found.elapsed() < RETRY_AFTER => true,
            Some(found) => {
                let retrying = Instant::now().checked_sub(RETRY_AFTER - RETRYING);
                *found = retrying.unwrap_or_else(Instant::now);
                false
            }
        }
    }

    /// Forgets `shape`: its days were kept.
    pub(crate) fn remove(&self, shape: &Arc<str>) {
        let mut shapes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        shapes.remove(shape);
    }

    /// Remembers that `shape`'s days hold too much to keep, from now.
    pub(crate) fn insert(&self, shape: &Arc<str>) {
        let mut shapes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if shapes.len() >= MAX_TOO_FINE {
            shapes.clear();
        }
        shapes.insert(shape.clone(), Instant::now());
    }
}

/// The rows of a statement that groups kept days, or None when they are more than `most`:
/// ClickHouse stops grouping there (it checks per thread, and per shard, before they are
/// merged, so the statement's own `LIMIT` must bound what the merge sends too).
pub(crate) async fn fetch_bounded<T>(
    store: &Store,
    query: clickhouse::query::Query,
    most: usize,
) -> Result<Option<Vec<T>>, Error>
where
    T: clickhouse::RowOwned + clickhouse::RowRead,
{
    let query = query
        .with_setting("max_rows_to_group_by", most.to_string())
        .with_setting("group_by_overflow_mode", "throw");
    match store.fetch_all(query).await {
        Ok(rows) if rows.len() <= most => Ok(Some(rows)),
        Ok(_) => Ok(None),
        Err(err) if clickhouse_code(&err) == Some(TOO_MANY_ROWS) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// A kept read's answer, or None to read `what` from the events instead: a timeout or a
/// refusal stands (the events would take longer still, or refuse the request the same way);
/// any other failure is logged, and the events read (they fail as well if ClickHouse cannot
/// answer).
pub(crate) fn or_events<T>(kept: Result<Option<T>, Error>, what: &str) -> Result<Option<T>, Error> {
    match kept {
        Err(err @ (Error::Invalid(_) | Error::Timeout)) => Err(err),
        Err(err) => {
            tracing::warn!(error = %err, "kept {what} days not read");
            Ok(None)
        }
        Ok(kept) => Ok(kept),
    }
}

/// The days of `slices`, each once, in order.
pub(crate) fn days_of(slices: &[Slice]) -> Vec<i64> {
    let mut days: Vec<i64> = slices.iter().map(|slice| slice.day).collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Binds days as seconds since the epoch, `{days}`'s.
pub(crate) fn bind_days(
    mut query: clickhouse::query::Query,
    days: &[i64],
) -> clickhouse::query::Query {
    for day in days {
        query = query.bind((day * DAY).max(0));
    }
    query
}

/// The change counter of each day (days since the epoch) that has one.
#[derive(Debug, Default)]
pub(crate) struct Counters(HashMap<i64, u64>);

impl Counters {
    /// The counters of the days from `first` to `last` of `project`.
    pub(crate) async fn read(
        store: &Store,
        project: Uuid,
        first: i64,
        last: i64,
    ) -> Result<Self, clickhouse::error::Error> {
        let query = store
            .query(CHANGES)
            .bind(project.to_string())
            .bind((first * DAY).max(0))
            .bind((last * DAY).max(0));
        let rows: Vec<ChangesRow> = store.fetch_all(query).await?;
        Ok(Self(
            rows.into_iter()
                .map(|row| (i64::from(row.day), row.changes))
                .collect(),
        ))
    }

    pub(crate) fn of(&self, day: i64) -> u64 {
        self.0.get(&day).copied().unwrap_or(0)
    }

    /// The counters of the day before `day`, the day and the day after.
    pub(crate) fn around(&self, day: i64) -> [u64; 3] {
        [self.of(day - 1), self.of(day), self.of(day + 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shape found too fine is read from the events until the time to try again is past;
    /// then one call tries again while the others wait for what it finds.
    #[test]
    fn a_shape_too_fine_is_tried_again_later_by_one_call() {
        let too_fine = TooFine::default();
        let shape: Arc<str> = "shape".into();
        assert!(!too_fine.contains(&shape));
        too_fine.insert(&shape);
        assert!(too_fine.contains(&shape));
        let Some(long_ago) = Instant::now().checked_sub(RETRY_AFTER) else {
            return;
        };
        too_fine
            .0
            .lock()
            .expect("not poisoned")
            .insert(shape.clone(), long_ago);
        assert!(!too_fine.contains(&shape), "this call tries again");
        assert!(too_fine.contains(&shape), "the others wait");
        too_fine.remove(&shape);
        assert!(!too_fine.contains(&shape), "kept: forgotten");
    }

    #[test]
    fn a_period_is_cut_at_every_utc_midnight() {
        let from = 3 * DAY - 100;
        let to = 5 * DAY + 7;
        assert_eq!(
            split(from, to),
            vec![
                Slice {
                    day: 2,
                    from,
                    to: 3 * DAY
                },
                Slice {
                    day: 3,
                    from: 3 * DAY,
                    to: 4 * DAY
                },
                Slice {
                    day: 4,
                    from: 4 * DAY,
                    to: 5 * DAY
                },
                Slice {
                    day: 5,
                    from: 5 * DAY,
                    to
                },
            ]
        );
        assert!(!split(from, to)[0].whole());
        assert!(split(from, to)[1].whole());
        assert!(split(from, from).is_empty());
    }
}
