//! Persons by hash, in the service: what the kept days (`crate::overview`, `crate::trends`)
//! need to count persons from the distinct ids' hashes they keep. A link made today merges
//! persons of every day, so every request counts through the links as they are then: kept
//! ([`KeptLinks`]) while a cheap look at `person_ids` says nothing was added or removed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use super::sql::{KEPT_LINKS, LINKS_STATE};
use crate::store::Store;

/// Keyed by distinct ids' (or persons') hashes. std's SipHash costs most of the overview's time
/// when a month's users are millions of set inserts; foldhash is a few times faster and still
/// keyed per process, which matters: the ids come from clients, and unkeyed, anyone could send
/// ids whose hashes collide and slow every overview of the project.
pub(crate) type ByHash<V> = std::collections::HashMap<u64, V, foldhash::fast::RandomState>;

/// A set of ids' or persons' hashes, keyed as [`ByHash`].
pub(crate) type HashSet = std::collections::HashSet<u64, foldhash::fast::RandomState>;

/// A linked id's row of [`KEPT_LINKS`].
#[derive(Debug, Row, Deserialize)]
struct LinkRow {
    user_hash: u64,
    linked_hash: u64,
    rows: u64,
    latest_version: u64,
    fingerprint: u64,
}

/// Per linked distinct id of a project (by hash), its person's hash; an id without a link, or
/// whose link was erased, is its own person.
#[derive(Debug, Default)]
pub(crate) struct Persons(ByHash<u64>);

impl Persons {
    /// The links of `project`, and the state of `person_ids` they were read at (from the same
    /// statement, so from the same replicas on a cluster).
    async fn read(
        store: &Store,
        project: Uuid,
    ) -> Result<(Self, LinksState), clickhouse::error::Error> {
        let query = store.query(KEPT_LINKS).bind(project.to_string());
        let rows: Vec<LinkRow> = store.fetch_all(query).await?;
        let mut state = LinksState::default();
        for row in &rows {
            state.rows += row.rows;
            state.latest_version = state.latest_version.max(row.latest_version);
            state.fingerprint = state.fingerprint.wrapping_add(row.fingerprint);
        }
        let persons = rows
            .into_iter()
            .filter(|row| row.linked_hash != 0)
            .map(|row| (row.user_hash, row.linked_hash))
            .collect();
        Ok((Self(persons), state))
    }

    /// How many ids are linked.
    fn len(&self) -> usize {
        self.0.len()
    }

    /// Persons of the given links (id, person), for tests.
    #[cfg(test)]
    pub(crate) fn of_links(links: impl IntoIterator<Item = (u64, u64)>) -> Self {
        Self(links.into_iter().collect())
    }

    /// Each linked id's hash with its person's.
    pub(crate) fn links(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().map(|(id, person)| (*id, *person))
    }

    /// The person of the distinct id whose hash is `id`, by hash.
    pub(crate) fn of(&self, id: u64) -> u64 {
        self.0.get(&id).copied().unwrap_or(id)
    }

    /// How many persons the ids of `sets` are, each counted once however many sets hold it.
    pub(crate) fn count<'a>(&self, sets: impl Iterator<Item = &'a [u64]> + Clone) -> u64 {
        let largest = sets.clone().map(<[u64]>::len).max().unwrap_or(0);
        let mut seen = HashSet::with_capacity_and_hasher(largest, Default::default());
        for ids in sets {
            seen.extend(ids.iter().map(|id| self.of(*id)));
        }
        seen.len() as u64
    }
}

/// Links kept at most, over every project: about 40 MiB. A project with more is read at every
/// request.
const MAX_KEPT_LINKS: usize = 1 << 20;

/// A project's rows of `person_ids`: counted, the latest `version`, and a fingerprint of all
/// of them ([`LINKS_STATE`]). Any row added, removed or merged away moves it; a merge changes
/// no link, and only makes them be read again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Row, Deserialize)]
struct LinksState {
    rows: u64,
    latest_version: u64,
    fingerprint: u64,
}

/// Each project's links as last read, with the state of `person_ids` they were read at: while
/// the state is the same, the links are too. At 100 M events and 200 000 links, reading them
/// took about 70 ms of every overview, trend of persons, top values and retention; the state
/// takes a few milliseconds. On a cluster the state and the links may come from different
/// replicas: links read from one that lags keep its older state, which a later call's state
/// differs from once the replicas agree, so they are read again then.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeptLinks {
    inner: Arc<Mutex<ByProject>>,
}

/// Per project, its links and the state they were read at.
type ByProject = HashMap<Uuid, (LinksState, Arc<Persons>)>;

impl KeptLinks {
    fn lock(&self) -> MutexGuard<'_, ByProject> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The persons of `project` through its links as they are now.
    pub(crate) async fn persons(
        &self,
        store: &Store,
        project: Uuid,
    ) -> Result<Arc<Persons>, clickhouse::error::Error> {
        let state: LinksState = store
            .fetch_one(store.query(LINKS_STATE).bind(project.to_string()))
            .await?;
        if let Some((kept, persons)) = self.lock().get(&project)
            && *kept == state
        {
            return Ok(persons.clone());
        }
        let (persons, state) = Persons::read(store, project).await?;
        let persons = Arc::new(persons);
        self.keep(project, state, &persons);
        Ok(persons)
    }

    /// Keeps `persons` of `project` unless they are more than the bound; past it, every other
    /// project's links are let go first.
    fn keep(&self, project: Uuid, state: LinksState, persons: &Arc<Persons>) {
        let mut kept = self.lock();
        kept.remove(&project);
        if persons.len() > MAX_KEPT_LINKS {
            return;
        }
        let held: usize = kept.values().map(|(_, persons)| persons.len()).sum();
        if held + persons.len() > MAX_KEPT_LINKS {
            kept.clear();
        }
        kept.insert(project, (state, persons.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_ids_count_once_across_sets() {
        let persons = Persons::of_links([(2, 1)]);
        let sets: [&[u64]; 2] = [&[1, 3], &[2, 3, 4]];
        assert_eq!(
            persons.count(sets.iter().copied()),
            3,
            "1 and 2 are one person"
        );
        assert_eq!(persons.count(std::iter::empty()), 0);
        assert_eq!(Persons::default().count(sets.iter().copied()), 4);
    }
}
