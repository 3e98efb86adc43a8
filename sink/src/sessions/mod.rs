//! Sessions, given as events arrive. A session is the SDK's `$session_id` when it sent one;
//! otherwise the sink gives every event a session before inserting it: the person's events
//! split where 30 minutes pass without one (see `timeline`). A materialized view sees one
//! insert at a time and cannot find those gaps across batches, so the sink does, and the
//! view only sums up each session (`crate::schema::sessions`).
//!
//! The sink remembers each person's latest event and session (`known`). A batch whose new
//! events simply continue what it remembers costs nothing more; ClickHouse is asked (one
//! statement per project and chunk, `lookup`) for the persons it does not remember (a
//! restart, or another replica saw them), for a late event (older than the person's latest),
//! for an event that would start a session (another replica may have stored the events that
//! continue it), and for every person with a row that may already be stored (late, imported
//! or redelivered: the batch's uncertain rows), whose stored events keep the session they were
//! stored with. The other persons of that batch are not looked up for it.
//! `sink_session_persons_looked_up_total` counts the persons looked up.

mod known;
mod lookup;
mod timeline;

use std::collections::HashMap;

use prometheus_client::metrics::counter::Counter;
use uuid::Uuid;

use crate::persons::PersonKeys;
use crate::row::EventRow;
use known::{Known, Last, Person};
use lookup::{Stored, Wanted};
use timeline::{Moment, settle};

/// The person key of each of `rows`, in order: the person the persons' mapping says its
/// distinct id is (an id no identity link joined is its own person). The one place that says
/// which events are one person's.
async fn person_keys(
    persons: &PersonKeys,
    rows: &[EventRow],
) -> Result<Vec<String>, clickhouse::error::Error> {
    let mut by_project: HashMap<Uuid, Vec<String>> = HashMap::new();
    for row in rows {
        by_project
            .entry(row.project_id)
            .or_default()
            .push(row.distinct_id.clone());
    }
    let mut keys: HashMap<Uuid, HashMap<String, String>> = HashMap::new();
    for (project, mut ids) in by_project {
        ids.sort_unstable();
        ids.dedup();
        keys.insert(project, persons.person_keys(project, &ids).await?);
    }
    Ok(rows
        .iter()
        .map(|row| {
            keys.get(&row.project_id)
                .and_then(|found| found.get(&row.distinct_id))
                .cloned()
                .unwrap_or_else(|| row.distinct_id.clone())
        })
        .collect())
}

/// Each row's own distinct id as its person key: for when the mapping cannot be read.
fn own_keys(rows: &[EventRow]) -> Vec<String> {
    rows.iter().map(|row| row.distinct_id.clone()).collect()
}

/// What the sink remembers of persons' sessions.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    known: Known,
    /// A replay's: every person looked up, nothing remembered.
    replaying: bool,
    /// Which person a distinct id is: the sink's, shared with the persons' consumer (a merge is
    /// seen at once); a replay's, made on its first batch (a merge is seen within the TTL).
    persons: Option<PersonKeys>,
    /// Persons looked up in ClickHouse (each time they are).
    looked_up: Counter<u64>,
}

impl Sessions {
    /// The sink's: `persons` is the lookup the persons' consumer updates; `looked_up` counts
    /// the persons looked up.
    pub(crate) fn following(persons: PersonKeys, looked_up: Counter<u64>) -> Self {
        Self {
            persons: Some(persons),
            looked_up,
            ..Self::default()
        }
    }

    /// For `sink replay`, which may run beside the sink: every person is looked up.
    pub(crate) fn replaying() -> Self {
        Self {
            replaying: true,
            ..Self::default()
        }
    }

    /// Gives every row without a `session_id` one. `uncertain`: the rows that may already be
    /// stored (late, imported or redelivered); their persons are looked up in ClickHouse,
    /// whatever is remembered. Once the lookup failed the rows are as they were, except for
    /// those settled from memory, which a second call keeps.
    pub(crate) async fn assign(
        &mut self,
        clickhouse: &clickhouse::Client,
        rows: &mut [EventRow],
        uncertain: impl Fn(&EventRow) -> bool,
    ) -> Result<(), clickhouse::error::Error> {
        let persons = self
            .persons
            .get_or_insert_with(|| PersonKeys::new(clickhouse.clone()))
            .clone();
        let keys = person_keys(&persons, rows).await?;
        let replaying = self.replaying;
        let unsure = self.settle_remembered(rows, keys, |row| replaying || uncertain(row));
        if unsure.is_empty() {
            return Ok(());
        }
        self.looked_up.inc_by(unsure.len() as u64);
        // What is remembered of a person next is their latest stored event; a replay
        // remembers nothing.
        let stored = lookup::around(clickhouse, &wanted(rows, &unsure), !self.replaying).await?;
        self.settle_unsure(rows, unsure, &stored);
        Ok(())
    }

    /// [`Self::assign`] from what is remembered alone, for when ClickHouse keeps refusing the
    /// lookup: a session may then be split where another replica stored its events.
    pub(crate) fn assign_unlooked(&mut self, rows: &mut [EventRow]) {
        let unsure = self.settle_remembered(rows, own_keys(rows), |_| false);
        self.settle_unsure(rows, unsure, &HashMap::new());
    }

    /// Settles the persons (`keys`: each row's) whose rows all came with a session, or who are
    /// remembered well enough (unless one of their rows is one to `look_up`); returns the
    /// others, with the indices of their rows.
    fn settle_remembered(
        &mut self,
        rows: &mut [EventRow],
        keys: Vec<String>,
        look_up: impl Fn(&EventRow) -> bool,
    ) -> Vec<(Person, Vec<usize>)> {
        let mut persons: HashMap<Person, Vec<usize>> = HashMap::new();
        for (index, key) in keys.into_iter().enumerate() {
            // An engagement is no activity of its own (and the lookup, which reads the events,
            // would not see it): it keeps the session it came with, if any.
            if rows[index].kind == contract::event::EventKind::Engagement.as_str() {
                continue;
            }
            let project = rows[index].project_id;
            persons
                .entry(Person { project, key })
                .or_default()
                .push(index);
        }
        let mut unsure = Vec::new();
        for (person, indices) in persons {
            let complete = indices.iter().all(|&i| !rows[i].session_id.is_empty());
            let wanted = indices.iter().any(|&i| look_up(&rows[i]));
            if complete || (!wanted && self.settle_from_memory(&person, rows, &indices)) {
                let moments = moments_of(rows, &indices);
                self.remember(person, &moments);
            } else {
                unsure.push((person, indices));
            }
        }
        unsure
    }

    /// Settles the `unsure` persons among their `stored` events.
    fn settle_unsure(
        &mut self,
        rows: &mut [EventRow],
        unsure: Vec<(Person, Vec<usize>)>,
        stored: &HashMap<(Uuid, String), Vec<Stored>>,
    ) {
        for (person, indices) in unsure {
            // The person's ids in the batch, and their canonical id, under which the events
            // sent since the merge are stored.
            let mut ids: Vec<&str> = indices
                .iter()
                .map(|&i| rows[i].distinct_id.as_str())
                .chain([person.key.as_str()])
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let context: Vec<&Stored> = ids
                .into_iter()
                .filter_map(|id| stored.get(&(person.project, id.to_owned())))
                .flatten()
                .collect();
            let moments = settled(&person, rows, &indices, &context);
            self.remember(person, &moments);
        }
    }

    /// Settles the rows of `person` on what is remembered of them, and says whether that was
    /// enough: the person is remembered, none of the rows is older than their latest event,
    /// and none starts a session.
    fn settle_from_memory(
        &self,
        person: &Person,
        rows: &mut [EventRow],
        indices: &[usize],
    ) -> bool {
        let Some(last) = self.known.get(person) else {
            return false;
        };
        if indices.iter().any(|&i| rows[i].timestamp < last.at) {
            return false;
        }
        let mut moments = moments_of(rows, indices);
        moments.push(Moment {
            at: last.at,
            event_id: last.event_id,
            session: Some(last.session.clone()),
            row: None,
        });
        if settle(person.project, &person.key, &mut moments) > 0 {
            return false;
        }
        write_back(rows, &moments);
        true
    }

    /// Remembers the latest of `moments` (settled) as `person`'s last activity.
    fn remember(&mut self, person: Person, moments: &[Moment]) {
        let latest = moments.iter().max_by_key(|m| (m.at, m.event_id));
        if let Some(Moment {
            at,
            event_id,
            session: Some(session),
            ..
        }) = latest
        {
            let last = Last {
                at: *at,
                event_id: *event_id,
                session: session.clone(),
            };
            self.known.remember(person, last);
        }
    }
}

/// The rows at `indices` as moments, with the sessions they came with.
fn moments_of(rows: &[EventRow], indices: &[usize]) -> Vec<Moment> {
    indices
        .iter()
        .map(|&index| Moment {
            at: rows[index].timestamp,
            event_id: rows[index].event_id,
            session: Some(rows[index].session_id.clone()).filter(|s| !s.is_empty()),
            row: Some(index),
        })
        .collect()
}

/// Gives the rows at `indices` (one person's) their sessions among the `stored` events of that
/// person; a row that is a stored event (a redelivery) keeps the session it was stored with.
/// Returns the settled moments.
fn settled(
    person: &Person,
    rows: &mut [EventRow],
    indices: &[usize],
    stored: &[&Stored],
) -> Vec<Moment> {
    let by_id: HashMap<Uuid, &Stored> = stored
        .iter()
        .filter(|event| !event.session.is_empty())
        .map(|event| (event.event_id, *event))
        .collect();
    let mut moments = moments_of(rows, indices);
    for moment in &mut moments {
        if moment.session.is_none()
            && let Some(event) = by_id.get(&moment.event_id)
        {
            moment.session = Some(event.session.clone());
        }
    }
    moments.extend(by_id.values().map(|event| Moment {
        at: event.at,
        event_id: event.event_id,
        session: Some(event.session.clone()),
        row: None,
    }));
    settle(person.project, &person.key, &mut moments);
    write_back(rows, &moments);
    moments
}

/// Writes the sessions of the row moments into their rows.
fn write_back(rows: &mut [EventRow], moments: &[Moment]) {
    for moment in moments {
        if let (Some(index), Some(session)) = (moment.row, &moment.session) {
            rows[index].session_id.clone_from(session);
        }
    }
}

/// What to look up for the `unsure` persons: per distinct id (the rows' own, and their
/// person's canonical id), the times of its new events.
fn wanted<'a>(rows: &'a [EventRow], unsure: &'a [(Person, Vec<usize>)]) -> Vec<Wanted> {
    let mut wanted: HashMap<(Uuid, &str), Vec<u32>> = HashMap::new();
    for (person, indices) in unsure {
        for &index in indices {
            let row = &rows[index];
            wanted
                .entry((person.project, row.distinct_id.as_str()))
                .or_default()
                .push(row.timestamp);
            if person.key != row.distinct_id {
                wanted
                    .entry((person.project, person.key.as_str()))
                    .or_default()
                    .push(row.timestamp);
            }
        }
    }
    wanted
        .into_iter()
        .map(|((project, distinct_id), times)| Wanted {
            project,
            distinct_id: distinct_id.to_owned(),
            times,
        })
        .collect()
}

#[cfg(test)]
mod tests;
