//! Kept figures added into a period's points (`super::days`): counts and sums add up across
//! stretches and days; distinct persons are the union of the ids each stretch saw, mapped to
//! their persons at the request. The breakdown's top values are ranked as the SQL of the
//! events ranks them: by the measure over the whole current period, then by value.

use std::collections::HashMap;
use std::sync::Arc;

use super::kept::Figure;
use super::series::Point;
use crate::params::interval::Buckets;
use crate::persons::hashes::Persons;
use crate::pieces::Slice;

/// Per slice, its kept (or just read) figures.
pub(super) type Figures = HashMap<Slice, Arc<[Figure]>>;

/// The figures of a period's pieces with the key of the bucket each is in.
fn keyed<'a>(
    slices: &'a [Slice],
    figures: &'a Figures,
    buckets: &'a Buckets,
) -> impl Iterator<Item = (i64, &'a Figure)> {
    slices.iter().flat_map(move |slice| {
        figures.get(slice).into_iter().flat_map(move |kept| {
            // A cut piece's first stretch may start before the piece; its rows are in the
            // bucket of the piece's start.
            kept.iter()
                .map(move |figure| (buckets.key_of(figure.at.max(slice.from)), figure))
        })
    })
}

/// Values ranked by their total, largest first (NaN last, as ClickHouse puts it whichever way
/// it sorts), then by value; the first `limit`.
fn ranked<'a>(totals: impl Iterator<Item = (&'a Arc<str>, f64)>, limit: usize) -> Vec<String> {
    let mut ranked: Vec<(&Arc<str>, f64)> = totals.collect();
    ranked.sort_by(|a, b| {
        (a.1.is_nan().cmp(&b.1.is_nan()))
            .then_with(|| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal))
            .then_with(|| a.0.cmp(b.0))
    });
    ranked
        .into_iter()
        .take(limit)
        .map(|(value, _)| value.to_string())
        .collect()
}

/// Each value's place among the top values, from 1 (0: the rest).
fn places(top: &[String]) -> HashMap<&str, u64> {
    (1..)
        .zip(top)
        .map(|(place, value)| (value.as_str(), place))
        .collect()
}

/// How a period's kept figures make points.
pub(super) enum Combine<'a> {
    /// Counts and sums: the amounts add up.
    Add,
    /// Distinct persons of the ids kept.
    Persons(&'a Persons),
}

impl Combine<'_> {
    /// The top `limit` values of the current period (`slices`); none without a breakdown.
    pub(super) fn top(
        &self,
        breakdown: bool,
        limit: usize,
        slices: &[Slice],
        figures: &Figures,
    ) -> Vec<String> {
        if !breakdown {
            return Vec::new();
        }
        let all = slices.iter().filter_map(|slice| figures.get(slice));
        match self {
            Self::Add => {
                let mut totals: HashMap<&Arc<str>, f64> = HashMap::new();
                for figure in all.flat_map(|kept| kept.iter()) {
                    *totals.entry(&figure.value).or_default() += figure.amount;
                }
                ranked(totals.into_iter(), limit)
            }
            Self::Persons(persons) => {
                let mut sets: HashMap<&Arc<str>, Vec<&[u64]>> = HashMap::new();
                for figure in all.flat_map(|kept| kept.iter()) {
                    sets.entry(&figure.value).or_default().push(&figure.ids);
                }
                let totals = sets
                    .into_iter()
                    .map(|(value, sets)| (value, persons.count(sets.iter().copied()) as f64));
                ranked(totals, limit)
            }
        }
    }

    /// The points of a period: one per bucket and place among the `top` values (0: the rest).
    pub(super) fn points(
        &self,
        top: &[String],
        slices: &[Slice],
        figures: &Figures,
        buckets: &Buckets,
    ) -> Vec<Point> {
        let places = places(top);
        let label = |value: &str| places.get(value).copied().unwrap_or(0);
        let figures = keyed(slices, figures, buckets);
        match self {
            Self::Add => {
                let mut sums: HashMap<(u64, i64), f64> = HashMap::new();
                for (key, figure) in figures {
                    *sums.entry((label(&figure.value), key)).or_default() += figure.amount;
                }
                sums.into_iter()
                    .map(|((label, t), value)| Point { t, label, value })
                    .collect()
            }
            Self::Persons(persons) => {
                let mut sets: HashMap<(u64, i64), Vec<&[u64]>> = HashMap::new();
                for (key, figure) in figures {
                    sets.entry((label(&figure.value), key))
                        .or_default()
                        .push(&figure.ids);
                }
                sets.into_iter()
                    .map(|((label, t), sets)| Point {
                        t,
                        label,
                        value: persons.count(sets.iter().copied()) as f64,
                    })
                    .collect()
            }
        }
    }
}
