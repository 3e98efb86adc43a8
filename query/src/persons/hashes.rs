//! Persons by hash, in the service: what the kept days (`crate::overview`, `crate::trends`)
//! need to count persons from the distinct ids' hashes they keep. The links are read at every
//! request, since a link made today merges persons of every day.

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use super::sql::links;
use crate::store::Store;

/// Keyed by distinct ids' (or persons') hashes. std's SipHash costs most of the overview's time
/// when a month's users are millions of set inserts; foldhash is a few times faster and still
/// keyed per process, which matters: the ids come from clients, and unkeyed, anyone could send
/// ids whose hashes collide and slow every overview of the project.
pub(crate) type ByHash<V> = std::collections::HashMap<u64, V, foldhash::fast::RandomState>;

/// A set of ids' or persons' hashes, keyed as [`ByHash`].
pub(crate) type HashSet = std::collections::HashSet<u64, foldhash::fast::RandomState>;

#[derive(Debug, Row, Deserialize)]
struct LinkRow {
    user_hash: u64,
    linked_hash: u64,
}

/// Per linked distinct id of a project (by hash), its person's hash; an id without a link, or
/// whose link was erased, is its own person.
#[derive(Debug, Default)]
pub(crate) struct Persons(ByHash<u64>);

impl Persons {
    /// The links of `project`.
    pub(crate) async fn read(
        store: &Store,
        project: Uuid,
    ) -> Result<Self, clickhouse::error::Error> {
        let links = links(project);
        let rows: Vec<LinkRow> = store.fetch_all(links.bind(store.query(&links.sql))).await?;
        Ok(Self(
            rows.into_iter()
                .filter(|row| row.linked_hash != 0)
                .map(|row| (row.user_hash, row.linked_hash))
                .collect(),
        ))
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
