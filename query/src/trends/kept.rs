//! The trends' kept days ([`TrendDays`]), bounded by what they take in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::persons::hashes::KeptLinks;
use crate::pieces::{Counters, Slice, TooFine};

/// Bytes kept in all, about, at most (figures and their values, as if no value were shared);
/// past it the cache starts again empty.
const MAX_BYTES: usize = 256 << 20;

/// Distinct ids one request may hold, at most, for its days to be kept: half the bound.
pub(super) const MAX_HELD_IDS: usize = MAX_BYTES / 8 / 2;

/// What a kept day costs beyond its figures: its key and the map's entry.
const DAY_BYTES: usize = 128;

/// The measure of one stretch and breakdown value of a piece.
#[derive(Debug, Clone)]
pub(super) struct Figure {
    /// The stretch's start, Unix seconds.
    pub(super) at: i64,
    pub(super) value: Arc<str>,
    /// A count or sum (0 for distinct persons).
    pub(super) amount: f64,
    /// For distinct persons, the hashes of the distinct ids seen (`user_hash`), each once;
    /// empty for the other measures.
    pub(super) ids: Arc<[u64]>,
}

impl Figure {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.value.len() + std::mem::size_of_val(&*self.ids)
    }
}

/// A day's figures, with the day's counter when they were read.
type KeptDay = (u64, Arc<[Figure]>);

/// Kept days, shared by every request of the service.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrendDays {
    inner: Arc<Mutex<Kept>>,
    too_fine: TooFine,
    /// The links, shared with the other kept days of the service.
    links: KeptLinks,
}

#[derive(Debug, Default)]
struct Kept {
    /// By the trend's shape (the text of everything it reads but its range) and day.
    days: HashMap<(Arc<str>, i64), KeptDay>,
    bytes: usize,
}

/// What `figures` of one day cost.
fn cost(shape: &str, figures: &[Figure]) -> usize {
    DAY_BYTES + shape.len() + figures.iter().map(Figure::bytes).sum::<usize>()
}

impl TrendDays {
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

    /// The kept figures of a whole day whose counter has not moved since.
    pub(super) fn get(
        &self,
        shape: &Arc<str>,
        slice: &Slice,
        counter: u64,
    ) -> Option<Arc<[Figure]>> {
        if !slice.whole() {
            return None;
        }
        let kept = self.lock();
        let (at, figures) = kept.days.get(&(shape.clone(), slice.day))?;
        (*at == counter).then(|| figures.clone())
    }

    /// Keeps the figures read of whole days, with the counters read before them. Past the
    /// bound the cache starts again, once per call (`first`: the call's first read); a later
    /// read of the call past it is not kept, so that it does not drop what the call kept.
    pub(super) fn keep(
        &self,
        shape: &Arc<str>,
        counters: &Counters,
        read: &[(Slice, Arc<[Figure]>)],
        first: bool,
    ) {
        let whole = read.iter().filter(|(slice, _)| slice.whole());
        let adding: usize = whole.clone().map(|(_, figures)| cost(shape, figures)).sum();
        if adding > MAX_BYTES {
            // More than could ever be kept: keep nothing, and leave what is kept alone.
            return;
        }
        let mut kept = self.lock();
        if kept.bytes + adding > MAX_BYTES {
            if !first {
                return;
            }
            kept.days.clear();
            kept.bytes = 0;
        }
        for (slice, figures) in whole {
            let entry = (counters.of(slice.day), figures.clone());
            if let Some((_, old)) = kept.days.insert((shape.clone(), slice.day), entry) {
                kept.bytes -= cost(shape, &old);
            }
            kept.bytes += cost(shape, figures);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: i64) -> Slice {
        Slice {
            day,
            from: day * crate::pieces::DAY,
            to: (day + 1) * crate::pieces::DAY,
        }
    }

    /// Empty days cost their entry, a day read again replaces its cost, and past the bound the
    /// cache starts again.
    #[test]
    fn kept_days_count_what_they_cost_and_stay_bounded() {
        let cache = TrendDays::default();
        let shape: Arc<str> = "shape".into();
        let none: Arc<[Figure]> = Vec::new().into();
        let counters = Counters::default();
        let read: Vec<(Slice, Arc<[Figure]>)> = (0..1000).map(|d| (day(d), none.clone())).collect();
        cache.keep(&shape, &counters, &read, true);
        assert_eq!(cache.lock().bytes, 1000 * cost("shape", &[]));
        cache.keep(&shape, &counters, &read, true);
        assert_eq!(
            cache.lock().bytes,
            1000 * cost("shape", &[]),
            "read again: the same"
        );
        assert!(cache.get(&shape, &day(7), 0).is_some());
        assert!(cache.get(&shape, &day(7), 1).is_none(), "the counter moved");

        let big: Arc<str> = "v".repeat(1 << 20).into();
        let figure = Figure {
            at: 0,
            value: big,
            amount: 1.0,
            ids: Vec::new().into(),
        };
        // A read that could never be kept leaves what is kept alone.
        let huge: Arc<[Figure]> = vec![figure.clone(); 300].into();
        cache.keep(&shape, &counters, &[(day(5000), huge)], true);
        assert!(cache.get(&shape, &day(7), 0).is_some(), "kept as before");
        assert!(cache.get(&shape, &day(5000), 0).is_none(), "not kept");

        let figures: Arc<[Figure]> = vec![figure.clone()].into();
        for d in 0..300 {
            cache.keep(&shape, &counters, &[(day(2000 + d), figures.clone())], true);
            assert!(cache.lock().bytes <= MAX_BYTES);
        }
        assert!(
            cache.get(&shape, &day(7), 0).is_none(),
            "started again past the bound"
        );
        // Past the bound again, a call's later read is not kept and drops nothing.
        let large: Arc<[Figure]> = vec![figure; 220].into();
        cache.keep(&shape, &counters, &[(day(9000), large)], false);
        assert!(cache.get(&shape, &day(9000), 0).is_none(), "not kept");
        assert!(cache.get(&shape, &day(2299), 0).is_some(), "kept as before");
    }
}
