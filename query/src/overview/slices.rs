//! The overview's figures of pieces of a period, each within one UTC day ([`Slice`]), in SQL:
//! events, pageviews and the distinct ids seen (`events`), and the sessions that started in
//! each piece (`sessions`, read for the piece's day and the days either side, as
//! `crate::sessions` reads them). A whole day is one piece; the day a period starts or ends
//! in is cut where it does. Each kind is one statement for every piece asked for: the whole
//! days are grouped by their date, the cut ones by which piece's bounds hold the event (or the
//! session's start).

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use crate::persons::sql::links;
use crate::store::Store;

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

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

/// What the events of a piece add up to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct EventFigures {
    pub(crate) events: u64,
    pub(crate) pageviews: u64,
    /// The hashes of the distinct ids seen (`user_hash`), each once, for persons to be counted
    /// across pieces.
    pub(crate) ids: std::sync::Arc<[u64]>,
}

/// What the sessions that started in a piece add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SessionFigures {
    pub(crate) sessions: u64,
    /// Sessions of a single event.
    pub(crate) bounced: u64,
    /// Seconds from each session's first event to its last, summed.
    pub(crate) seconds: u64,
}

/// The events of the pieces: `{part}` says which cut piece an event is in (0: none), `{days}`
/// lists every piece's day, `{whole}` the whole days (days since the epoch); `{bots}` leaves out a bot's events.
/// Binds the project, then what [`Pieces::bind`] binds.
const EVENTS: &str = "SELECT {part} AS part, toUInt16(date) AS day, count() AS events, \
     countIf(event = '$pageview') AS pageviews, arraySort(groupUniqArray(user_hash)) AS ids \
     FROM events WHERE project_id = toUUID(?) AND date IN ({days}){bots} \
     GROUP BY part, day HAVING part > 0 OR day IN ({whole})";

/// The sessions of the pieces, as [`EVENTS`] but of the sessions' rows of each piece's day and
/// the days either side (`{days}`), a session counted in the piece its start is in. `{bots}`
/// leaves out a bot's sessions.
const SESSIONS: &str = "SELECT {part} AS part, toUInt16(toDate(first_at)) AS day, \
     count() AS sessions, countIf(events = 1) AS bounced, \
     toUInt64(sum(last_at - first_at)) AS seconds FROM ( \
       SELECT minMerge(started) AS first_at, maxMerge(ended) AS last_at, \
         uniqUpToMerge(1)(one_event) AS events, maxMerge(is_bot) AS bot \
       FROM sessions WHERE project_id = toUUID(?) AND day IN ({days}) \
       GROUP BY cityHash64(session_id){bots}) \
     GROUP BY part, day HAVING part > 0 OR day IN ({whole})";

/// Per day from the first to the last (bound as seconds), the counter of the changes of its
/// events (`event_days`, kept by the sink: every insert and every erasure moves it).
const CHANGES: &str = "SELECT toUInt16(date) AS day, sum(changes) AS changes FROM event_days \
     WHERE project_id = toUUID(?) AND date >= toDate(toDateTime(?), 'UTC') \
     AND date <= toDate(toDateTime(?), 'UTC') GROUP BY day";

#[derive(Debug, Row, Deserialize)]
struct EventsRow {
    part: u8,
    day: u16,
    events: u64,
    pageviews: u64,
    ids: Vec<u64>,
}

#[derive(Debug, Row, Deserialize)]
struct SessionsRow {
    part: u8,
    day: u16,
    sessions: u64,
    bounced: u64,
    seconds: u64,
}

#[derive(Debug, Row, Deserialize)]
struct ChangesRow {
    day: u16,
    changes: u64,
}

#[derive(Debug, Row, Deserialize)]
struct LinkRow {
    user_hash: u64,
    linked_hash: u64,
}

/// The SQL of a set of pieces: which cut piece a time is in, and the days to read.
struct Pieces<'a> {
    slices: &'a [Slice],
}

impl Pieces<'_> {
    fn cut(&self) -> impl Iterator<Item = &Slice> {
        self.slices.iter().filter(|slice| !slice.whole())
    }

    /// `multiIf` over the cut pieces of `column` (a `DateTime`): the piece's place among them,
    /// from 1; 0 when in none.
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

    /// The statement `template` for these pieces, reading `days`.
    fn sql(&self, template: &str, column: &str, days: usize, bots: &str) -> String {
        template
            .replace("{part}", &self.part(column))
            .replace("{days}", &Self::days(days))
            .replace(
                "{whole}",
                &plumbing::clickhouse::placeholders(self.whole_days().len().max(1)),
            )
            .replace("{bots}", bots)
    }

    /// Which piece a row of [`EVENTS`] or [`SESSIONS`] is about.
    fn slice_of(&self, part: u8, day: u16) -> Option<Slice> {
        if part > 0 {
            self.cut().nth(usize::from(part) - 1).copied()
        } else {
            self.slices
                .iter()
                .find(|slice| slice.whole() && slice.day == i64::from(day))
                .copied()
        }
    }
}

/// Binds days as seconds since the epoch.
fn bind_days(mut query: clickhouse::query::Query, days: &[i64]) -> clickhouse::query::Query {
    for day in days {
        query = query.bind((day * DAY).max(0));
    }
    query
}

/// The figures of the events of `slices` of `project` (bots' too when `bots`).
pub(crate) async fn events(
    store: &Store,
    project: Uuid,
    slices: &[Slice],
    bots: bool,
) -> Result<Vec<(Slice, EventFigures)>, clickhouse::error::Error> {
    if slices.is_empty() {
        return Ok(Vec::new());
    }
    let pieces = Pieces { slices };
    let mut days: Vec<i64> = slices.iter().map(|slice| slice.day).collect();
    days.sort_unstable();
    days.dedup();
    let bots = if bots { "" } else { " AND is_bot = 0" };
    let sql = pieces.sql(EVENTS, "timestamp", days.len(), bots);
    let query = store.query(&sql);
    let query = pieces.bind_after_project(query, project, &days);
    let rows: Vec<EventsRow> = store.fetch_all(query).await?;
    let mut figures: Vec<(Slice, EventFigures)> = slices
        .iter()
        .map(|slice| (*slice, EventFigures::default()))
        .collect();
    for row in rows {
        let Some(slice) = pieces.slice_of(row.part, row.day) else {
            continue;
        };
        if let Some((_, found)) = figures.iter_mut().find(|(at, _)| *at == slice) {
            *found = EventFigures {
                events: row.events,
                pageviews: row.pageviews,
                ids: row.ids.into(),
            };
        }
    }
    Ok(figures)
}

/// The figures of the sessions of `project` that started in each of `slices` (bots' too when
/// `bots`).
pub(crate) async fn sessions(
    store: &Store,
    project: Uuid,
    slices: &[Slice],
    bots: bool,
) -> Result<Vec<(Slice, SessionFigures)>, clickhouse::error::Error> {
    if slices.is_empty() {
        return Ok(Vec::new());
    }
    let pieces = Pieces { slices };
    let mut days: Vec<i64> = slices
        .iter()
        .flat_map(|slice| [slice.day - 1, slice.day, slice.day + 1])
        .collect();
    days.sort_unstable();
    days.dedup();
    let bots = if bots { "" } else { " HAVING bot = 0" };
    let sql = pieces.sql(SESSIONS, "first_at", days.len(), bots);
    let query = pieces.bind_after_project(store.query(&sql), project, &days);
    let rows: Vec<SessionsRow> = store.fetch_all(query).await?;
    let mut figures: Vec<(Slice, SessionFigures)> = slices
        .iter()
        .map(|slice| (*slice, SessionFigures::default()))
        .collect();
    for row in rows {
        let Some(slice) = pieces.slice_of(row.part, row.day) else {
            continue;
        };
        if let Some((_, found)) = figures.iter_mut().find(|(at, _)| *at == slice) {
            *found = SessionFigures {
                sessions: row.sessions,
                bounced: row.bounced,
                seconds: row.seconds,
            };
        }
    }
    Ok(figures)
}

impl Pieces<'_> {
    /// Binds the cut pieces' bounds (they come first, in `{part}`), the project, `days` and
    /// the whole days, in the order the statements hold them.
    fn bind_after_project(
        &self,
        mut query: clickhouse::query::Query,
        project: Uuid,
        days: &[i64],
    ) -> clickhouse::query::Query {
        for slice in self.cut() {
            query = query.bind(slice.from).bind(slice.to);
        }
        query = query.bind(project.to_string());
        query = bind_days(query, days);
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
}

/// The change counter of each day from `first` to `last` (days since the epoch) that has one.
pub(crate) async fn changes(
    store: &Store,
    project: Uuid,
    first: i64,
    last: i64,
) -> Result<std::collections::HashMap<i64, u64>, clickhouse::error::Error> {
    let query = store
        .query(CHANGES)
        .bind(project.to_string())
        .bind((first * DAY).max(0))
        .bind((last * DAY).max(0));
    let rows: Vec<ChangesRow> = store.fetch_all(query).await?;
    Ok(rows
        .into_iter()
        .map(|row| (i64::from(row.day), row.changes))
        .collect())
}

/// Keyed by distinct ids' (or persons') hashes. std's SipHash costs most of the overview's time
/// when a month's users are millions of set inserts; foldhash is a few times faster and still
/// keyed per process, which matters: the ids come from clients, and unkeyed, anyone could send
/// ids whose hashes collide and slow every overview of the project.
pub(crate) type ByHash<V> = std::collections::HashMap<u64, V, foldhash::fast::RandomState>;

/// Per linked distinct id of `project` (by hash), its person's hash; an id without a link, or
/// whose link was erased, is its own person.
pub(crate) async fn persons(
    store: &Store,
    project: Uuid,
) -> Result<ByHash<u64>, clickhouse::error::Error> {
    let links = links(project);
    let rows: Vec<LinkRow> = store.fetch_all(links.bind(store.query(&links.sql))).await?;
    Ok(rows
        .into_iter()
        .filter(|row| row.linked_hash != 0)
        .map(|row| (row.user_hash, row.linked_hash))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
