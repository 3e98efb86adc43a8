//! The top values' kept days ([`TopDays`]): per shape and UTC day, each value's count and the
//! distinct ids that saw it. An id is kept as its place in the project's dictionary of ids (4
//! bytes instead of 8), and a request counts persons with one bit per place: a month of a
//! large project's days is tens of millions of ids, which hashing at every request would take
//! seconds to unite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use crate::persons::hashes::{ByHash, KeptLinks, Persons};
use crate::pieces::{Counters, Slice, TooFine};

/// Bytes kept in all, about, at most (figures, their values and the dictionaries); past it the
/// cache starts again empty.
const MAX_BYTES: usize = 384 << 20;

/// What one request may hold, at most, for its days to be kept: three quarters of the bound,
/// counting its places and its project's dictionary ([`too_many`]).
const MAX_HELD_BYTES: usize = MAX_BYTES / 4 * 3;

/// Whether `places` held by a request of a project whose dictionary holds `ids` are more than
/// can be kept.
pub(super) fn too_many(places: usize, ids: usize) -> bool {
    places * 4 + ids * PLACE_BYTES > MAX_HELD_BYTES
}

/// What a kept day costs beyond its figures: its key and the map's entry.
const DAY_BYTES: usize = 128;

/// What an id costs in a dictionary: its hash, its place, and the map's room around them.
const PLACE_BYTES: usize = 24;

/// One value of a piece as read: its events and the hashes of the distinct ids that sent them.
#[derive(Debug)]
pub(super) struct Read {
    pub(super) value: String,
    pub(super) count: u64,
    pub(super) ids: Vec<u64>,
}

/// One value of a piece as kept: its events and the places of the distinct ids, in order.
#[derive(Debug)]
pub(crate) struct Figure {
    pub(crate) value: Arc<str>,
    pub(crate) count: u64,
    pub(crate) places: Box<[u32]>,
}

impl Figure {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.value.len() + std::mem::size_of_val(&*self.places)
    }
}

/// The figures of one piece.
pub(crate) type Figures = Arc<[Figure]>;

/// Each distinct id's hash seen in a project's kept days, numbered from 0.
#[derive(Debug, Default)]
struct Dictionary {
    places: ByHash<u32>,
}

impl Dictionary {
    fn place(&mut self, id: u64) -> u32 {
        let next = u32::try_from(self.places.len()).unwrap_or(u32::MAX);
        *self.places.entry(id).or_insert(next)
    }
}

/// Kept days, shared by every request of the service.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopDays {
    inner: Arc<Mutex<Kept>>,
    too_fine: TooFine,
    /// The links, shared with the other kept days of the service.
    links: KeptLinks,
}

#[derive(Debug, Default)]
struct Kept {
    /// Moves whenever the cache starts again, and with it every dictionary.
    generation: u64,
    /// By the shape (the text of everything it reads but its range) and day.
    days: HashMap<(Arc<str>, i64), (u64, Figures)>,
    dictionaries: HashMap<Uuid, Dictionary>,
    bytes: usize,
    /// A day was left unkept for want of room: the cache starts again at the next request.
    full: bool,
}

/// What `figures` of one day cost.
fn cost(shape: &str, figures: &[Figure]) -> usize {
    DAY_BYTES + shape.len() + figures.iter().map(Figure::bytes).sum::<usize>()
}

impl TopDays {
    /// Empty, counting persons through `links` (shared with the other kept days).
    pub(crate) fn sharing(links: KeptLinks) -> Self {
        Self {
            links,
            ..Self::default()
        }
    }

    /// The links the kept days count persons through.
    pub(crate) fn links(&self) -> &KeptLinks {
        &self.links
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `shape` was found too fine to keep.
    pub(super) fn too_fine(&self, shape: &Arc<str>) -> bool {
        self.too_fine.contains(shape)
    }

    /// Remembers that `shape`'s days hold too much to keep.
    pub(super) fn found_too_fine(&self, shape: &Arc<str>) {
        self.too_fine.insert(shape);
    }

    /// Forgets that `shape` was found too fine: its days were kept.
    pub(super) fn found_fine(&self, shape: &Arc<str>) {
        self.too_fine.remove(shape);
    }

    /// The kept figures of the whole days of `slices` whose counter has not moved since, and
    /// the generation they belong to. Past the bound the cache starts again here, before a
    /// request holds any of its figures.
    pub(super) fn get(
        &self,
        shape: &Arc<str>,
        slices: &[Slice],
        counters: &Counters,
    ) -> (u64, HashMap<Slice, Figures>) {
        let mut kept = self.lock();
        if kept.bytes > MAX_BYTES || kept.full {
            *kept = Kept {
                generation: kept.generation + 1,
                ..Kept::default()
            };
        }
        let found = slices
            .iter()
            .filter(|slice| slice.whole())
            .filter_map(|slice| {
                let (at, figures) = kept.days.get(&(shape.clone(), slice.day))?;
                (*at == counters.of(slice.day)).then(|| (*slice, figures.clone()))
            })
            .collect();
        (kept.generation, found)
    }

    /// The figures read, with their ids placed in `project`'s dictionary, and how many ids the
    /// dictionary holds then; the whole days kept with the counters read before them, while
    /// the bound allows. None when the cache started again since `generation` (the places of
    /// the figures got before would mean other ids).
    pub(super) fn keep(
        &self,
        (project, shape): (Uuid, &Arc<str>),
        generation: u64,
        counters: &Counters,
        read: Vec<(Slice, Vec<Read>)>,
    ) -> Option<(Vec<(Slice, Figures)>, usize)> {
        let mut kept = self.lock();
        if kept.generation != generation {
            return None;
        }
        let Kept {
            days,
            dictionaries,
            bytes,
            full,
            ..
        } = &mut *kept;
        let dictionary = dictionaries.entry(project).or_default();
        let before = dictionary.places.len();
        let figures: Vec<(Slice, Figures)> = read
            .into_iter()
            .map(|(slice, values)| (slice, place(dictionary, values)))
            .collect();
        *bytes += (dictionary.places.len() - before) * PLACE_BYTES;
        for (slice, figures) in figures.iter().filter(|(slice, _)| slice.whole()) {
            let key = (shape.clone(), slice.day);
            let replaced = days.get(&key).map_or(0, |(_, old)| cost(shape, old));
            let adding = cost(shape, figures);
            if *bytes - replaced + adding > MAX_BYTES {
                *full = true;
                continue;
            }
            days.insert(key, (counters.of(slice.day), figures.clone()));
            *bytes = *bytes - replaced + adding;
        }
        Some((figures, dictionary.places.len()))
    }

    /// Per place of `project`'s dictionary, the place of its person, through `persons`' links
    /// (places are added for persons no kept id is); None when the cache started again since
    /// `generation`.
    pub(super) fn persons(
        &self,
        project: Uuid,
        generation: u64,
        persons: &Persons,
    ) -> Option<Vec<u32>> {
        let mut kept = self.lock();
        if kept.generation != generation {
            return None;
        }
        let Kept {
            dictionaries,
            bytes,
            ..
        } = &mut *kept;
        let dictionary = dictionaries.entry(project).or_default();
        let before = dictionary.places.len();
        let linked: Vec<(u32, u64)> = persons
            .links()
            .filter_map(|(id, person)| Some((*dictionary.places.get(&id)?, person)))
            .collect();
        let mut person_of: Vec<u32> = (0..).take(before).collect();
        for (place, person) in linked {
            let person = dictionary.place(person);
            if let Some(slot) = person_of.get_mut(place as usize) {
                *slot = person;
            }
        }
        // A person no kept id is gets a place of its own, and is its own person.
        let all = dictionary.places.len();
        person_of.extend((0..).take(all).skip(before));
        *bytes += (all - before) * PLACE_BYTES;
        Some(person_of)
    }
}

/// `values` with their ids placed in `dictionary`, each list in order of place.
fn place(dictionary: &mut Dictionary, values: Vec<Read>) -> Figures {
    values
        .into_iter()
        .map(|read| {
            let mut places: Vec<u32> = read.ids.iter().map(|id| dictionary.place(*id)).collect();
            places.sort_unstable();
            Figure {
                value: read.value.into(),
                count: read.count,
                places: places.into(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pieces::DAY;

    fn day(day: i64) -> Slice {
        Slice {
            day,
            from: day * DAY,
            to: (day + 1) * DAY,
        }
    }

    fn read(value: &str, ids: &[u64]) -> Read {
        Read {
            value: value.to_owned(),
            count: ids.len() as u64,
            ids: ids.to_vec(),
        }
    }

    /// Ids keep their places within a generation, persons take the places of their links, and
    /// a request holding places of a generation the cache left gets nothing.
    #[test]
    fn places_hold_within_a_generation_and_persons_follow_the_links() {
        let cache = TopDays::default();
        let (project, shape): (Uuid, Arc<str>) = (Uuid::nil(), "shape".into());
        let counters = Counters::default();
        let (generation, kept) = cache.get(&shape, &[day(1)], &counters);
        assert!(kept.is_empty());
        let day_one = vec![(day(1), vec![read("/", &[10, 20]), read("/x", &[30, 20])])];
        let (figures, ids) = cache
            .keep((project, &shape), generation, &counters, day_one)
            .expect("the same generation");
        assert_eq!(ids, 3);
        let places: Vec<Vec<u32>> = figures[0].1.iter().map(|f| f.places.to_vec()).collect();
        assert_eq!(places, [vec![0, 1], vec![1, 2]], "in order of place");
        let (_, kept) = cache.get(&shape, &[day(1)], &counters);
        assert_eq!(kept.len(), 1, "the whole day is kept");

        // 30 is linked to 10; 40, a person no kept id is, gets a place of its own.
        let persons = Persons::of_links([(30, 10), (20, 40)]);
        let person_of = cache
            .persons(project, generation, &persons)
            .expect("the same generation");
        assert_eq!(person_of, [0, 3, 0, 3]);

        cache.lock().full = true;
        let (next, kept) = cache.get(&shape, &[day(1)], &counters);
        assert_ne!(next, generation, "started again");
        assert!(kept.is_empty());
        let late = vec![(day(2), vec![read("/", &[50])])];
        assert!(
            cache
                .keep((project, &shape), generation, &counters, late)
                .is_none()
        );
        assert!(cache.persons(project, generation, &persons).is_none());
    }
}
