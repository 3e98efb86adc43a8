//! Top values from figures per UTC day that the service keeps between requests, as the trends'
//! are kept (`crate::trends`): a whole day's figures are read once and kept with the day's
//! change counter (`event_days`); a request reads the counters, then only the days whose
//! counter moved and the two cut days at the range's ends. A day's figures are each value's
//! count of events and the distinct ids that sent them ([`super::kept`]); the identity links,
//! as they are at each request, make the ids persons, and each value's users are the persons of the
//! union of its days. What depends on more than the day's events is read from the events as
//! before: a person's property as the dimension or in a filter.

use std::collections::HashMap;
use std::sync::Arc;

use clickhouse::Row;
use serde::Deserialize;

use super::kept::{self, Figures, Read, TopDays};
use super::request::{Request, TopRow, Values};
use crate::error::Error;
use crate::params::dimension::Dimension;
use crate::pieces::{self, Counters, Pieces, Slice};
use crate::scope::Scope;
use crate::store::Store;

/// Values a day may hold, on average over the days one read takes: a dimension of more (URLs,
/// ids) is read from the events, and its shape remembered as too fine to keep.
const MAX_PER_DAY: usize = 10_000;

/// Distinct ids over the values of the days one read takes (an id counted once per value and
/// day it sent): 4 Mi a day for a week, 224 MiB as read, 112 MiB once placed. Per read, not
/// per day read: the last days of a range, read apart, may be its busiest. A project with more
/// is read from the events, and its shape remembered as too fine to keep.
const MAX_IDS_PER_READ: usize = (4 << 20) * pieces::DAYS_PER_READ;

/// Each value's events and distinct ids per piece (in order, so that every ClickHouse version
/// gives the same answer). Binds the cut pieces, the dimension's key,
/// the project, the days, the filters and bots (as [`Scope::filters_sql`]), the event name
/// and the whole days.
const FIGURES: &str = "SELECT {part} AS part, toUInt16(date) AS day, {value} AS value, \
     count() AS count, arraySort(groupUniqArray(user_hash)) AS ids FROM events \
     WHERE project_id = toUUID(?) AND date IN ({days}){bots}{event} \
     GROUP BY part, day, value HAVING part > 0 OR day IN ({whole}) LIMIT {limit}";

#[derive(Debug, Row, Deserialize)]
struct FigureRow {
    part: u8,
    day: u16,
    value: String,
    count: u64,
    ids: Vec<u64>,
}

/// The kept figures of a scope's range: per piece, each value's events and the places of its
/// distinct ids, and per place the place of its person.
pub(crate) struct KeptDays {
    /// The pieces of the range, in order.
    pub(crate) slices: Vec<Slice>,
    pub(crate) figures: HashMap<Slice, Figures>,
    pub(crate) person_of: Vec<u32>,
}

/// The top values of the scope's range from kept days; None when they cannot be kept (then
/// they are read from the events).
pub(super) async fn top(
    store: &Store,
    cache: &TopDays,
    scope: &Scope,
    request: &Request,
) -> Result<Option<Vec<TopRow>>, Error> {
    let Some(days) = kept_days(store, cache, scope, &request.values).await? else {
        return Ok(None);
    };
    Ok(Some(rows(&days, request.limit)))
}

/// The figures of the scope's range, kept days and the cut ones; None when they cannot be
/// kept (then what they answer is read from the events).
pub(crate) async fn kept_days(
    store: &Store,
    cache: &TopDays,
    scope: &Scope,
    values: &Values,
) -> Result<Option<KeptDays>, Error> {
    if matches!(values.dimension, Dimension::Person(_))
        || scope.filters.iter().any(|f| f.on_person_property())
    {
        return Ok(None);
    }
    let shape: Arc<str> = format!(
        "{}|{}|{:?}|{:?}|{:?}",
        scope.project, scope.include_bots, values.dimension, values.events, scope.filters
    )
    .into();
    let (from, to) = scope.range.seconds();
    let slices = pieces::split(from, to);
    // Too long a range marks its length too fine, not the shape: a year's retention may share
    // the shape of a day's top events.
    let ranged: Arc<str> = format!("{shape}|{} days", slices.len()).into();
    if cache.too_fine(&shape) || cache.too_fine(&ranged) {
        return Ok(None);
    }
    let (Some(first), Some(last)) = (slices.first(), slices.last()) else {
        return Ok(None);
    };
    let (counters, persons) = tokio::try_join!(
        Counters::read(store, scope.project, first.day, last.day),
        cache.links().persons(store, scope.project),
    )?;
    let (generation, mut figures) = cache.get(&shape, &slices, &counters);
    let wanted: Vec<Slice> = slices
        .iter()
        .filter(|slice| !figures.contains_key(slice))
        .copied()
        .collect();
    // A few days a statement, each kept as soon as it is read (as the overview's).
    for part in wanted.chunks(pieces::DAYS_PER_READ) {
        // Ids cost more to read than to count in ClickHouse: what cannot be read in time is
        // counted there for a while.
        let read = match read(store, scope, values, part).await {
            Ok(Some(read)) => read,
            Ok(None) | Err(Error::Timeout) => {
                cache.found_too_fine(&shape);
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let Some((placed, ids)) = cache.keep((scope.project, &shape), generation, &counters, read)
        else {
            return Ok(None);
        };
        figures.extend(placed);
        // A range whose days could not all be kept would be read again at every call.
        if kept::too_many(held(&figures), ids) {
            cache.found_too_fine(&ranged);
            return Ok(None);
        }
    }
    let Some(person_of) = cache.persons(scope.project, generation, &persons) else {
        return Ok(None);
    };
    cache.found_fine(&shape);
    cache.found_fine(&ranged);
    Ok(Some(KeptDays {
        slices,
        figures,
        person_of,
    }))
}

/// The figures of `slices`, or None when they are too many to keep.
async fn read(
    store: &Store,
    scope: &Scope,
    values: &Values,
    slices: &[Slice],
) -> Result<Option<Vec<(Slice, Vec<Read>)>>, Error> {
    let pieces = Pieces::new(slices);
    let days = pieces::days_of(slices);
    // ClickHouse checks `max_rows_to_group_by` per thread (and per shard), before they are
    // merged: the limit bounds what the merge sends.
    let most = MAX_PER_DAY * days.len();
    let template = FIGURES
        .replace("{value}", values.dimension.sql())
        .replace("{event}", &values.events_sql())
        .replace("{limit}", &(most + 1).to_string());
    let sql = pieces.sql(&template, "timestamp", days.len(), &scope.filters_sql());
    let mut query = pieces.bind_cut(store.query(&sql));
    if let Some(key) = values.dimension.bind() {
        query = query.bind(key);
    }
    query = pieces::bind_days(query.bind(scope.project.to_string()), &days);
    let query = pieces.bind_whole(values.bind_events(scope.bind_filters(query)));
    let Some(rows) = pieces::fetch_bounded::<FigureRow>(store, query, most).await? else {
        return Ok(None);
    };
    let ids: usize = rows.iter().map(|row| row.ids.len()).sum();
    if ids > MAX_IDS_PER_READ {
        return Ok(None);
    }
    let mut figures: HashMap<Slice, Vec<Read>> = HashMap::new();
    for row in rows {
        if let Some(slice) = pieces.slice_of(row.part, row.day) {
            figures.entry(slice).or_default().push(Read {
                value: row.value,
                count: row.count,
                ids: row.ids,
            });
        }
    }
    Ok(Some(
        slices
            .iter()
            .map(|slice| (*slice, figures.remove(slice).unwrap_or_default()))
            .collect(),
    ))
}

/// The places `figures` hold.
fn held(figures: &HashMap<Slice, Figures>) -> usize {
    figures
        .values()
        .flat_map(|f| f.iter())
        .map(|f| f.places.len())
        .sum()
}

/// The `limit` values of the most events over `slices` (then by value, as the SQL orders
/// them), each with its users: the persons (`person_of`, by place) of the ids of its days.
fn rows(days: &KeptDays, limit: usize) -> Vec<TopRow> {
    let KeptDays {
        slices,
        figures,
        person_of,
    } = days;
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut lists: HashMap<&str, Vec<&[u32]>> = HashMap::new();
    for figure in slices
        .iter()
        .filter_map(|s| figures.get(s))
        .flat_map(|f| f.iter())
    {
        *counts.entry(&figure.value).or_default() += figure.count;
        lists.entry(&figure.value).or_default().push(&figure.places);
    }
    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ranked.truncate(limit);
    // One bit per place: a person seen on any day of the value is set once.
    let mut seen = vec![0_u64; person_of.len().div_ceil(64)];
    ranked
        .into_iter()
        .map(|(value, count)| {
            seen.fill(0);
            let places = lists
                .get(value)
                .into_iter()
                .flatten()
                .flat_map(|p| p.iter());
            for person in places.filter_map(|place| person_of.get(*place as usize)) {
                if let Some(word) = seen.get_mut(*person as usize / 64) {
                    *word |= 1 << (person % 64);
                }
            }
            TopRow {
                value: value.to_owned(),
                count,
                users: seen.iter().map(|word| u64::from(word.count_ones())).sum(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::kept::Figure;

    fn figure(value: &str, count: u64, places: &[u32]) -> Figure {
        Figure {
            value: value.into(),
            count,
            places: places.into(),
        }
    }

    /// Counts add up over the days; users are the persons of the places of every day, each
    /// once; ties rank by value.
    #[test]
    fn values_rank_by_events_and_count_their_persons_once() {
        let slices = pieces::split(0, 2 * pieces::DAY);
        let mut figures = HashMap::new();
        figures.insert(
            slices[0],
            vec![figure("/b", 2, &[0, 1]), figure("/a", 1, &[2])].into(),
        );
        figures.insert(
            slices[1],
            vec![figure("/a", 1, &[0]), figure("/c", 3, &[64])].into(),
        );
        // Place 1 is linked to place 0's person; place 64 is in the second word.
        let person_of = [0, 0, 2].into_iter().chain(3..65).collect::<Vec<u32>>();
        let days = KeptDays {
            slices,
            figures,
            person_of,
        };
        let rows: Vec<(String, u64, u64)> = rows(&days, 2)
            .into_iter()
            .map(|row| (row.value, row.count, row.users))
            .collect();
        assert_eq!(
            rows,
            [("/c".to_owned(), 3, 1), ("/a".to_owned(), 2, 2)],
            "/a and /b tie at two events; /a first"
        );
    }
}
