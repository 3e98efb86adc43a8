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

use crate::pieces::{self, Pieces, Slice};
use crate::store::Store;

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
    let pieces = Pieces::new(slices);
    let days = pieces::days_of(slices);
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
    let pieces = Pieces::new(slices);
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
