//! The overview without filters, from figures per UTC day that the service keeps between
//! requests. A day's figures are read once and kept with the change counter of the days they
//! depend on (`event_days`, which the sink moves on every insert into a day and on every
//! erasure): the events' figures on their own day's, the sessions' on the day before and the
//! day after too (a session that started on a day can have events on the next, and one that
//! started the day before is not that day's). A request reads the counters, then only the
//! days whose counter moved and the two cut days at a period's ends; a dashboard's overview of
//! 30 days reads three days instead of sixty.
//!
//! Users are persons: the days keep the hashes of the distinct ids they saw, and the identity
//! links of the project, as they are at every request, map them to their persons; the union is
//! counted exactly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use uuid::Uuid;

use super::slices::{self, EventFigures, SessionFigures};
use super::totals::Totals;
use crate::error::Error;
use crate::persons::hashes::{KeptLinks, Persons};
use crate::pieces::{self, Counters, Slice};
use crate::scope::Scope;
use crate::store::Store;

/// The id hashes kept in all, at most: 16 M (128 MiB); past it the cache starts again empty.
const MAX_IDS: usize = 16_000_000;

/// What is kept of one day of one project (with or without bots).
#[derive(Debug, Clone, Default)]
struct Day {
    /// With the counter of the day.
    events: Option<(u64, EventFigures)>,
    /// With the counters of the day before, the day and the day after.
    sessions: Option<([u64; 3], SessionFigures)>,
}

/// Kept days, shared by every request of the service.
#[derive(Debug, Clone, Default)]
pub(crate) struct DayCache {
    inner: Arc<Mutex<Kept>>,
    /// The links, shared with the other kept days of the service.
    links: KeptLinks,
}

#[derive(Debug, Default)]
struct Kept {
    days: HashMap<(Uuid, bool, i64), Day>,
    ids: usize,
}

impl DayCache {
    /// Empty, counting persons through `links` (shared with the other kept days).
    pub(crate) fn sharing(links: KeptLinks) -> Self {
        Self {
            links,
            ..Self::default()
        }
    }

    /// The kept figures of `slice` that are still true, as events and sessions (a cut slice
    /// is never kept).
    fn get(
        &self,
        key: (Uuid, bool),
        slice: &Slice,
        counters: &Counters,
    ) -> (Option<EventFigures>, Option<SessionFigures>) {
        if !slice.whole() {
            return (None, None);
        }
        let kept = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(day) = kept.days.get(&(key.0, key.1, slice.day)) else {
            return (None, None);
        };
        let events = day
            .events
            .as_ref()
            .filter(|(counter, _)| *counter == counters.of(slice.day))
            .map(|(_, figures)| figures.clone());
        let sessions = day
            .sessions
            .as_ref()
            .filter(|(around, _)| *around == counters.around(slice.day))
            .map(|(_, figures)| *figures);
        (events, sessions)
    }

    /// Keeps the figures read of whole days, with the counters read before them. Past the
    /// bound the cache starts again, once per call (`first`: the call's first read); a later
    /// read of the call past it is not kept, so that it does not drop what the call kept.
    fn keep(
        &self,
        key: (Uuid, bool),
        counters: &Counters,
        events: &[(Slice, EventFigures)],
        sessions: &[(Slice, SessionFigures)],
        first: bool,
    ) {
        let mut kept = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let adding: usize = events.iter().map(|(_, figures)| figures.ids.len()).sum();
        if kept.ids + adding > MAX_IDS {
            if !first {
                return;
            }
            *kept = Kept::default();
        }
        for (slice, figures) in events.iter().filter(|(slice, _)| slice.whole()) {
            let day = kept.days.entry((key.0, key.1, slice.day)).or_default();
            let before = day.events.as_ref().map_or(0, |(_, old)| old.ids.len());
            day.events = Some((counters.of(slice.day), figures.clone()));
            kept.ids = kept.ids - before + figures.ids.len();
        }
        for (slice, figures) in sessions.iter().filter(|(slice, _)| slice.whole()) {
            let day = kept.days.entry((key.0, key.1, slice.day)).or_default();
            day.sessions = Some((counters.around(slice.day), *figures));
        }
    }
}

/// The totals of the scope's range and of the period before it, for a scope without filters.
pub(crate) async fn totals(
    store: &Store,
    cache: &DayCache,
    scope: &Scope,
) -> Result<[Totals; 2], Error> {
    let (from, to) = scope.range.seconds();
    let (previous_from, _) = scope.range.previous().seconds();
    let periods = [pieces::split(from, to), pieces::split(previous_from, from)];
    let all: Vec<Slice> = periods.iter().flatten().copied().collect();
    let (Some(first), Some(last)) = (
        all.iter().map(|s| s.day).min(),
        all.iter().map(|s| s.day).max(),
    ) else {
        return Ok([Totals::default(), Totals::default()]);
    };
    let key = (scope.project, scope.include_bots);
    let counters = Counters::read(store, scope.project, first - 1, last + 1).await?;
    let mut events = HashMap::new();
    let mut sessions = HashMap::new();
    let (mut events_wanted, mut sessions_wanted) = (Vec::new(), Vec::new());
    for slice in &all {
        let (kept_events, kept_sessions) = cache.get(key, slice, &counters);
        match kept_events {
            Some(figures) => drop(events.insert(*slice, figures)),
            None => events_wanted.push(*slice),
        }
        match kept_sessions {
            Some(figures) => drop(sessions.insert(*slice, figures)),
            None => sessions_wanted.push(*slice),
        }
    }
    // A few days a statement, each kept as soon as it is read: on a large project a cold call
    // reads 60 days, which in one statement can outlast `max_execution_time`, and then no call
    // would ever keep anything.
    let read = async {
        let (mut events_parts, mut sessions_parts) = (
            events_wanted.chunks(pieces::DAYS_PER_READ),
            sessions_wanted.chunks(pieces::DAYS_PER_READ),
        );
        let mut first = true;
        while events_parts.len() + sessions_parts.len() > 0 {
            let (read_events, read_sessions) = tokio::try_join!(
                slices::events(
                    store,
                    scope.project,
                    events_parts.next().unwrap_or_default(),
                    scope.include_bots
                ),
                slices::sessions(
                    store,
                    scope.project,
                    sessions_parts.next().unwrap_or_default(),
                    scope.include_bots
                ),
            )?;
            cache.keep(key, &counters, &read_events, &read_sessions, first);
            first = false;
            events.extend(read_events);
            sessions.extend(read_sessions);
        }
        Ok::<_, clickhouse::error::Error>(())
    };
    let ((), persons) = tokio::try_join!(read, cache.links.persons(store, scope.project))?;
    let [current, previous] = periods;
    Ok([
        sum(&current, &events, &sessions, &persons),
        sum(&previous, &events, &sessions, &persons),
    ])
}

/// The totals of the slices of one period; users are the persons of the ids seen.
fn sum(
    period: &[Slice],
    events: &HashMap<Slice, EventFigures>,
    sessions: &HashMap<Slice, SessionFigures>,
    persons: &Persons,
) -> Totals {
    let mut totals = Totals::default();
    for slice in period {
        if let Some(figures) = events.get(slice) {
            totals.events += figures.events;
            totals.pageviews += figures.pageviews;
        }
        if let Some(figures) = sessions.get(slice) {
            totals.sessions += figures.sessions;
            totals.bounced += figures.bounced;
            totals.seconds += figures.seconds;
        }
    }
    // Persons seen: each once, however many days saw them.
    let ids = period
        .iter()
        .filter_map(|slice| events.get(slice))
        .map(|figures| &*figures.ids);
    totals.users = persons.count(ids);
    totals
}
