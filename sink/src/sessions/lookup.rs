//! Reading what ClickHouse holds of some persons before their new events get sessions: their
//! stored events within 30 minutes of each new one (whole hours around it, in fact), and each
//! person's latest stored event since the earliest of them. One statement per project and
//! chunk of persons, whatever the number of events asked about.
//!
//! The statement names the chunk's ids and hours as two plain lists rather than one list of
//! (id, hour) tuples: ClickHouse reads the same days' granules either way, but parses and
//! builds a set of a thousand tuples several times slower, which made this lookup most of the
//! time a batch of imported events (each starting a session, so each person looked up) took.
//! The rows of an id in an hour not its own are dropped here, so the answer is the same.

use std::collections::{HashMap, HashSet};

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use super::timeline::INACTIVITY_SECS;
use crate::table::day_text;

/// The new events of one distinct id: their times (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub(crate) project: Uuid,
    pub(crate) distinct_id: String,
    pub(crate) times: Vec<u32>,
}

/// A stored event of a distinct id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) at: u32,
    pub(crate) event_id: Uuid,
    /// Empty for an event stored before sessions were given.
    pub(crate) session: String,
}

/// Most distinct ids per statement, and most bytes of SQL their values take: the statement
/// stays well under ClickHouse's default `max_query_size` (256 KiB), however long the ids.
const CHUNK_IDS: usize = 500;
const CHUNK_BYTES: usize = 100_000;

/// The events around the wanted times, by (project, distinct id): the ids and the hours that
/// matter bound the read (the days they fall on to the partitions and index ranges); an id's
/// rows in another's hours are dropped after (see [`Pairs`]).
const AROUND: &str = "SELECT distinct_id, toUInt32(timestamp) AS at, toString(event_id) AS id, \
     session_id AS session, toUInt8(0) AS latest FROM events WHERE project_id = toUUID(?) \
     AND date IN ({days}) AND distinct_id IN ({ids}) \
     AND intDiv(toUInt32(timestamp), 3600) IN ({hours})";

/// Each distinct id's latest event since the earliest wanted time minus 30 minutes, from an
/// aggregate, so an id active since then costs one row.
const LATEST: &str = "SELECT distinct_id, max(toUInt32(timestamp)) AS at, \
     argMax(toString(event_id), (toUInt32(timestamp), toString(event_id))) AS id, \
     argMax(session_id, (toUInt32(timestamp), toString(event_id))) AS session, \
     toUInt8(1) AS latest FROM events \
     WHERE project_id = toUUID(?) AND date >= toDate(?) AND timestamp >= toDateTime(?) \
     AND distinct_id IN ({ids}) GROUP BY distinct_id";

#[derive(Debug, Row, Deserialize)]
struct StoredRow {
    distinct_id: String,
    at: u32,
    id: String,
    session: String,
    /// 1 for the [`LATEST`] part's row, 0 for [`AROUND`]'s.
    latest: u8,
}

/// The `(distinct_id, hour)` pairs of a chunk: the hours within 30 minutes of each wanted time.
struct Pairs<'a>(Vec<(&'a str, u32)>);

impl<'a> Pairs<'a> {
    fn of(wanted: &[&'a Wanted]) -> Self {
        let mut pairs = Vec::new();
        for one in wanted {
            for at in &one.times {
                for hour in [at.saturating_sub(INACTIVITY_SECS), at + INACTIVITY_SECS] {
                    pairs.push((one.distinct_id.as_str(), hour / 3_600));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        Self(pairs)
    }

    /// The distinct values of one side of the pairs, in order.
    fn sorted<T: Ord + Copy>(&self, side: impl Fn(&(&'a str, u32)) -> T) -> Vec<T> {
        let mut values: Vec<T> = self.0.iter().map(side).collect();
        values.sort_unstable();
        values.dedup();
        values
    }
}

/// The stored events of the wanted distinct ids around their times, and with `latest`, the
/// latest of each (what the sink remembers of them next).
pub(crate) async fn around(
    clickhouse: &clickhouse::Client,
    wanted: &[Wanted],
    latest: bool,
) -> Result<HashMap<(Uuid, String), Vec<Stored>>, clickhouse::error::Error> {
    let mut by_project: HashMap<Uuid, Vec<&Wanted>> = HashMap::new();
    for one in wanted {
        by_project.entry(one.project).or_default().push(one);
    }
    let mut found: HashMap<(Uuid, String), Vec<Stored>> = HashMap::new();
    for (project, wanted) in by_project {
        for chunk in chunks(wanted) {
            let pairs = Pairs::of(&chunk);
            let asked: HashSet<(&str, u32)> = pairs.0.iter().copied().collect();
            for row in statement(clickhouse, project, &chunk, &pairs, latest)
                .fetch_all::<StoredRow>()
                .await?
            {
                // An id's row in an hour only another id asked about.
                if row.latest == 0 && !asked.contains(&(row.distinct_id.as_str(), row.at / 3_600)) {
                    continue;
                }
                let Ok(event_id) = Uuid::parse_str(&row.id) else {
                    continue;
                };
                found
                    .entry((project, row.distinct_id))
                    .or_default()
                    .push(Stored {
                        at: row.at,
                        event_id,
                        session: row.session,
                    });
            }
        }
    }
    Ok(found)
}

/// `wanted` in chunks of at most [`CHUNK_IDS`] ids whose values take about [`CHUNK_BYTES`]
/// (each id once per hour pair and once more; an hour some 16 bytes).
fn chunks(wanted: Vec<&Wanted>) -> Vec<Vec<&Wanted>> {
    let mut chunks: Vec<Vec<&Wanted>> = Vec::new();
    let mut bytes = 0;
    for one in wanted {
        let cost = (one.distinct_id.len() + 16) * (2 * one.times.len() + 1);
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_IDS && bytes + cost <= CHUNK_BYTES => {
                chunk.push(one);
                bytes += cost;
            }
            _ => {
                chunks.push(vec![one]);
                bytes = cost;
            }
        }
    }
    chunks
}

/// [`AROUND`] (and with `latest`, [`LATEST`]) for `wanted`, all of `project`, with its values
/// bound.
fn statement(
    clickhouse: &clickhouse::Client,
    project: Uuid,
    wanted: &[&Wanted],
    pairs: &Pairs<'_>,
    latest: bool,
) -> clickhouse::query::Query {
    let ids = pairs.sorted(|(id, _)| *id);
    let hours = pairs.sorted(|(_, hour)| *hour);
    let days = pairs.sorted(|(_, hour)| hour / 24);
    let since = wanted
        .iter()
        .flat_map(|one| &one.times)
        .min()
        .map_or(0, |at| at.saturating_sub(INACTIVITY_SECS));
    let marks = plumbing::clickhouse::placeholders;
    let mut sql = AROUND
        .replace("{days}", &marks(days.len()))
        .replace("{ids}", &marks(ids.len()))
        .replace("{hours}", &marks(hours.len()));
    if latest {
        sql.push_str(" UNION ALL ");
        sql.push_str(&LATEST.replace("{ids}", &marks(wanted.len())));
    }
    let mut query = clickhouse.query(&sql).bind(project.to_string());
    for day in days {
        query = query.bind(day_text(u16::try_from(day).unwrap_or(u16::MAX)));
    }
    for distinct_id in ids {
        query = query.bind(distinct_id);
    }
    for hour in hours {
        query = query.bind(hour);
    }
    if latest {
        query = query
            .bind(project.to_string())
            .bind(day_text(u16::try_from(since / 86_400).unwrap_or(u16::MAX)))
            .bind(since);
        for one in wanted {
            query = query.bind(one.distinct_id.as_str());
        }
    }
    query
}
