//! Retention from the top values' kept days (`crate::top`): per UTC day, the places of the
//! distinct ids that did each event, made persons by the links as they are at each request. A
//! person's cohort is the period of their first start event in the range, their returns the
//! periods of their return events from then on, as the SQL counts them; a few bits per person
//! instead of a pass over every event of the range.
//!
//! Kept only where a period is made of whole UTC days (a project whose zone is UTC) and no
//! filter is on a person's property; else the events are read.

use std::collections::BTreeMap;

use clickhouse::Row;
use contract::query::RetentionRequest;
use serde::Deserialize;

use crate::error::Error;
use crate::params::dimension::Dimension;
use crate::pieces::Slice;
use crate::scope::Scope;
use crate::store::Store;
use crate::top::{self, KeptDays, TopDays, Values};

/// Users of a cohort (named by the day number of its period's first day) `offset` periods on:
/// 0 is the cohort's size, k the users who did the return event k − 1 periods after its own.
#[derive(Debug, Row, Deserialize)]
pub(super) struct CohortCell {
    pub(super) cohort: u32,
    pub(super) offset: u32,
    pub(super) users: u64,
}

/// The cohorts' cells of `request` from kept days, by cohort then offset; None when they cannot
/// be kept.
pub(super) async fn cells(
    store: &Store,
    cache: &TopDays,
    scope: &Scope,
    request: &RetentionRequest,
    days_per_period: u32,
) -> Result<Option<Vec<CohortCell>>, Error> {
    // By name: a name the service does not know reads as UTC here, but not in ClickHouse.
    let utc = matches!(
        scope.zone_name.as_str(),
        "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Etc/Universal" | "Etc/Zulu"
    );
    if !utc || scope.filters.iter().any(|f| f.on_person_property()) {
        return Ok(None);
    }
    // The ids of the start and the return event, by name.
    let mut names = vec![request.start_event.clone()];
    if request.return_event != request.start_event {
        names.push(request.return_event.clone());
    }
    let values = Values {
        dimension: Dimension::Column("event"),
        events: names,
    };
    let Some(days) = top::kept_days(store, cache, scope, &values).await? else {
        return Ok(None);
    };
    let periods = Periods {
        days: days_per_period,
        count: request.periods,
    };
    Ok(Some(count(
        &days,
        (&request.start_event, &request.return_event),
        periods,
    )))
}

/// How periods are counted: days in each, and how many after the cohort's.
#[derive(Debug, Clone, Copy)]
struct Periods {
    days: u32,
    count: u32,
}

impl Periods {
    /// The period of a UTC day (days since 1970-01-01, a Thursday), named as the SQL names it:
    /// the day itself, or the Monday of its week.
    fn of(self, day: i64) -> u32 {
        let first = if self.days == 1 {
            day
        } else {
            day - (day + 3).rem_euclid(7)
        };
        u32::try_from(first).unwrap_or(0)
    }
}

/// The persons (by place) of the ids that did `event` in `slice`.
fn persons_of<'a>(
    days: &'a KeptDays,
    slice: &'a Slice,
    event: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    days.figures
        .get(slice)
        .into_iter()
        .flat_map(|figures| figures.iter())
        .filter(move |figure| &*figure.value == event)
        .flat_map(|figure| figure.places.iter())
        .filter_map(|place| days.person_of.get(*place as usize))
        .map(|person| *person as usize)
}

/// A person who did not do the start event (yet).
const NO_COHORT: u32 = u32::MAX;

/// The cells of the persons of `days` that did `start`, returning with `back`: a cohort's size
/// at offset 0, at offset k + 1 how many did `back` k periods after it.
fn count(days: &KeptDays, (start, back): (&str, &str), periods: Periods) -> Vec<CohortCell> {
    let person_of = &days.person_of;
    let mut cohort = vec![NO_COHORT; person_of.len()];
    let mut returned = vec![0_u64; person_of.len()];
    // The pieces in order, a period at a time: its starts before its returns, since a return
    // in the cohort's own period counts.
    for period in days
        .slices
        .chunk_by(|a, b| periods.of(a.day) == periods.of(b.day))
    {
        let at = periods.of(period[0].day);
        for person in period
            .iter()
            .flat_map(|slice| persons_of(days, slice, start))
        {
            if let Some(slot) = cohort.get_mut(person).filter(|slot| **slot == NO_COHORT) {
                *slot = at;
            }
        }
        for person in period
            .iter()
            .flat_map(|slice| persons_of(days, slice, back))
        {
            let Some(&first) = cohort.get(person).filter(|first| **first != NO_COHORT) else {
                continue;
            };
            let later = (at - first) / periods.days;
            if later < periods.count {
                returned[person] |= 1 << later;
            }
        }
    }
    // Per cohort: its size, then its returns per period.
    let mut cells: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (first, mut bits) in cohort.into_iter().zip(returned) {
        if first == NO_COHORT {
            continue;
        }
        let users = cells
            .entry(first)
            .or_insert_with(|| vec![0; periods.count as usize + 1]);
        users[0] += 1;
        while bits != 0 {
            users[bits.trailing_zeros() as usize + 1] += 1;
            bits &= bits - 1;
        }
    }
    cells
        .into_iter()
        .flat_map(|(cohort, users)| {
            users
                .into_iter()
                .zip(0..)
                .filter(|(users, _)| *users > 0)
                .map(move |(users, offset)| CohortCell {
                    cohort,
                    offset,
                    users,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::pieces::{self, DAY};
    use crate::top::Figure;

    fn figure(event: &str, places: &[u32]) -> Figure {
        Figure {
            value: event.into(),
            count: places.len() as u64,
            places: places.into(),
        }
    }

    /// Three weeks of days from a Monday: a cohort is the week of a person's first start, a
    /// return counts in its own week and later ones up to the periods asked, linked ids are
    /// one person, and a return before any start counts nothing.
    #[test]
    fn persons_join_the_cohort_of_their_first_start_and_return_from_it() {
        // 2026-09-28 is a Monday.
        let monday = 20_724;
        assert_eq!(Periods { days: 7, count: 2 }.of(monday + 6), monday as u32);
        let slices = pieces::split(monday * DAY, (monday + 21) * DAY);
        let day = |n: usize| slices[n];
        let mut figures: HashMap<_, Arc<[Figure]>> = HashMap::new();
        // Place 1 is place 0's person; place 3 returns in week 0 before starting in week 1.
        figures.insert(day(0), vec![figure("start", &[0, 2])].into());
        figures.insert(
            day(2),
            vec![figure("back", &[1, 3]), figure("start", &[1])].into(),
        );
        figures.insert(
            day(8),
            vec![figure("start", &[3]), figure("back", &[2])].into(),
        );
        figures.insert(day(16), vec![figure("back", &[0, 3])].into());
        let days = KeptDays {
            slices,
            figures,
            person_of: vec![0, 0, 2, 3],
        };
        let cells: Vec<(u32, u32, u64)> =
            count(&days, ("start", "back"), Periods { days: 7, count: 2 })
                .into_iter()
                .map(|cell| (cell.cohort, cell.offset, cell.users))
                .collect();
        let (week0, week1) = (monday as u32, monday as u32 + 7);
        assert_eq!(
            cells,
            [
                // Persons 0 and 2; person 0 came back in week 0 (place 1), person 2 in week
                // 1; person 0's return in week 2 is past the two periods asked.
                (week0, 0, 2),
                (week0, 1, 1),
                (week0, 2, 1),
                // Person 3, back in week 2.
                (week1, 0, 1),
                (week1, 2, 1),
            ]
        );
    }
}
