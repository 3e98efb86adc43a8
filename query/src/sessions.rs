//! Sessions as the overview and the top lists read them: from the table the sink keeps
//! (`sessions`: per session and insert, aggregate states that a reader merges), a session
//! counted in a range when it started in it. The sink gives every event a session (the SDK's
//! `$session_id`, else 30 minutes of inactivity), so nothing is recomputed from events here.
//! Filters and an event name are about events: with them, the sessions that count are those
//! holding an event they keep (their ids read from `events`, `GLOBAL` so that a cluster sends
//! the set to every shard). Bots' sessions count only with `include_bots`.

use clickhouse::Row;
use contract::query::{TopResponse, TopValue};
use serde::Deserialize;

use crate::error::Error;
use crate::params::dimension::SessionDimension;
use crate::params::range::Range;
use crate::persons::sql::{PERSON, join};
use crate::scope::Scope;
use crate::store::Store;

/// The sessions of one project that may have started in a range: a session's rows are in the
/// days of its events (the table is sorted by project, then day), so one that crossed into the
/// range's first day also has rows in the day before, which must be merged for its true start
/// (else it would seem to start at midnight). Rows from the day before the range to the day
/// after it are read: a session runs for a day at most in practice (SDKs end theirs at 24
/// hours). Binds the project, the range's start and its end.
const PROJECT_SINCE: &str = "project_id = toUUID(?) \
     AND day >= toDate(toDateTime(?) - 86400, 'UTC') \
     AND day <= toDate(toDateTime(?) + 86400, 'UTC')";

/// Keeps the sessions that started in the range (binds its start and end); `{bots}` leaves out
/// a bot's.
const STARTED: &str = "first_at >= toDateTime(?) AND first_at < toDateTime(?){bots}";

/// Sessions, bounces (sessions of one event) and the seconds from their first to their last
/// event, summed. Grouped by the hash of the id: twice as fast as by the string on 18.16.
const FIGURES: &str = "SELECT count() AS sessions, countIf(events = 1) AS bounced, \
     toUInt64(sum(last_at - first_at)) AS seconds FROM ( \
       SELECT minMerge(started) AS first_at, maxMerge(ended) AS last_at, \
         uniqUpToMerge(1)(one_event) AS events, maxMerge(is_bot) AS bot \
       FROM sessions WHERE {sessions} GROUP BY cityHash64(session_id) HAVING {started})";

/// The top values of a dimension of sessions (`{value}`, a merged state), with sessions and
/// persons (`{persons}` joins them to `user_hash`, the hash of the session's first distinct id).
const TOP: &str = "SELECT value, count() AS count, uniqCombined({person}) AS users FROM ( \
       SELECT minMerge(started) AS first_at, {value} AS value, \
         cityHash64(argMinMerge(distinct_id)) AS user_hash, maxMerge(is_bot) AS bot \
       FROM sessions WHERE {sessions} GROUP BY cityHash64(session_id) \
       HAVING {started} AND value != '') AS merged{persons} \
     GROUP BY value ORDER BY count DESC, value LIMIT ?";

/// The merged state of `dimension`.
fn merged(dimension: SessionDimension) -> &'static str {
    match dimension {
        SessionDimension::EntryPage => "argMinIfMerge(entry_page)",
        SessionDimension::ExitPage => "argMaxIfMerge(exit_page)",
    }
}

/// The sessions of a range, summed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub(crate) struct Figures {
    pub(crate) sessions: u64,
    /// Sessions of a single event.
    pub(crate) bounced: u64,
    /// Seconds from each session's first event to its last, summed.
    pub(crate) seconds: u64,
}

/// One value of a top list of sessions.
#[derive(Debug, Row, Deserialize)]
struct TopRow {
    value: String,
    count: u64,
    users: u64,
}

/// The figures of the sessions of `scope` that started in `range`.
pub(crate) async fn figures(store: &Store, scope: &Scope, range: &Range) -> Result<Figures, Error> {
    let (sessions, started) = conditions(scope, None);
    let sql = FIGURES
        .replace("{sessions}", &sessions)
        .replace("{started}", &started);
    let query = bind(store.query(&sql), scope, range, None);
    Ok(store.fetch_one(query).await?)
}

/// The `limit` most frequent values of `dimension` among the sessions of the scope's range
/// (holding an event named `event`, when given), with the sessions and persons of each;
/// `name` is the dimension as the caller named it. Sessions without a pageview have no page
/// and are left out.
pub(crate) async fn top(
    store: &Store,
    scope: &Scope,
    (dimension, name): (SessionDimension, String),
    event: Option<&str>,
    limit: usize,
) -> Result<TopResponse, Error> {
    let (sessions, started) = conditions(scope, event);
    let persons = join(scope.project, None);
    let sql = TOP
        .replace("{person}", PERSON)
        .replace("{value}", merged(dimension))
        .replace("{sessions}", &sessions)
        .replace("{started}", &started)
        .replace("{persons}", &persons.sql);
    let query = bind(store.query(&sql), scope, &scope.range, event);
    let query = persons.bind(query).bind(limit as u64);
    let rows: Vec<TopRow> = store.fetch_all(query).await?;
    Ok(TopResponse {
        scope: scope.to_wire(),
        dimension: name,
        values: rows
            .into_iter()
            .map(|row| TopValue {
                value: row.value,
                count: row.count,
                users: row.users,
                time_on_page_ms: None,
                scroll_depth: None,
            })
            .collect(),
    })
}

/// The WHERE condition on the sessions table and the HAVING condition on merged sessions.
fn conditions(scope: &Scope, event: Option<&str>) -> (String, String) {
    let mut sessions = PROJECT_SINCE.to_owned();
    if !scope.filters.is_empty() || event.is_some() {
        sessions.push_str(" AND session_id GLOBAL IN (SELECT session_id FROM events WHERE ");
        sessions.push_str(&scope.where_sql());
        if event.is_some() {
            sessions.push_str(" AND event = ?");
        }
        sessions.push(')');
    }
    let bots = if scope.include_bots {
        ""
    } else {
        " AND bot = 0"
    };
    (sessions, STARTED.replace("{bots}", bots))
}

/// Binds what [`conditions`] made, for `range`.
fn bind(
    query: clickhouse::query::Query,
    scope: &Scope,
    range: &Range,
    event: Option<&str>,
) -> clickhouse::query::Query {
    let (from, to) = range.seconds();
    let mut query = query.bind(scope.project.to_string()).bind(from).bind(to);
    if !scope.filters.is_empty() || event.is_some() {
        query = scope.bind(query, range);
        if let Some(event) = event {
            query = query.bind(event);
        }
    }
    query.bind(from).bind(to)
}
