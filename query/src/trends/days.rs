//! Trends from figures per UTC day that the service keeps between requests, as the overview's
//! are kept (`crate::overview`): a whole day's figures are read once and kept with the day's
//! change counter (`event_days`: every insert into the day and every erasure moves it); a
//! request reads the counters, then only the days whose counter moved and the two cut days at
//! a period's ends. A dashboard's trend of 30 days reads three days instead of thirty, however
//! often it is shown.
//!
//! A day's figures are the measure per stretch of `unit` seconds and breakdown value. Every
//! bucket starts at such a stretch's start ([`Buckets::on_grid`]), so a stretch is in one
//! bucket. Counts and sums are kept per quarter hour (per minute for minute buckets) and add up
//! exactly across stretches and days. Distinct persons are kept as the distinct ids each
//! stretch saw (per day when every bucket starts at a UTC midnight, else per hour or quarter
//! hour), and counted as persons at each request through the identity links as they are then
//! ([`crate::persons::hashes::KeptLinks`]): a link made today merges persons of every day.
//! What depends on more than the day's events is read from the events as before: averages,
//! and a person's properties (as a breakdown or a filter), which change without the day's
//! counter moving.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use clickhouse::Row;
use contract::query::TrendSeries;
use serde::Deserialize;

use super::combine::{Combine, Figures};
use super::kept::{Figure, MAX_HELD_IDS, TrendDays};
use super::request::{Measure, Request};
use super::series;
use crate::error::Error;
use crate::params::dimension::Dimension;
use crate::params::interval::{Buckets, Interval};
use crate::params::range::Range;
use crate::pieces::{self, Counters, Pieces, Slice};
use crate::scope::Scope;
use crate::store::Store;

/// Figures (stretches with a breakdown value) a day may hold, on average over the days one
/// read takes: a trend whose days hold more (a breakdown by a dimension of many values, such as
/// URLs or ids) is read from the events as before, and its shape remembered as too fine to keep.
/// ClickHouse stops grouping there (per thread) and the statement's `LIMIT` bounds what comes
/// back, so finding out costs about what reading the events does.
const MAX_PER_DAY: usize = 10_000;

/// The measure of the events of pieces, per piece, stretch and breakdown value. Binds the cut
/// pieces, the breakdown's key, the measure's, the project, the days, the filters and bots
/// (as [`Scope::filters_sql`]), the event name and the whole days.
const FIGURES: &str = "SELECT {part} AS part, toUInt16(date) AS day, \
     intDiv(toInt64(timestamp), {unit}) * {unit} AS at, {value} AS value, {measure} AS amount, \
     {ids} AS ids FROM events WHERE project_id = toUUID(?) AND date IN ({days}){bots}{event} \
     GROUP BY part, day, at, value HAVING part > 0 OR day IN ({whole}) LIMIT {limit}";

#[derive(Debug, Row, Deserialize)]
struct FigureRow {
    part: u8,
    day: u16,
    at: i64,
    value: String,
    amount: f64,
    ids: Vec<u64>,
}

/// Distinct ids the days one read takes may hold, for distinct persons to be kept: 1 Mi a day
/// for a week, 56 MiB. Per read, not per day read: the last days of a range, read apart, may
/// be its busiest. A project with more is read from the events (where ClickHouse estimates
/// them, [`Measure::sql`]), and its shape remembered as too fine to keep.
const MAX_IDS_PER_READ: usize = (1 << 20) * pieces::DAYS_PER_READ;

/// A period of the trend: where it starts, its pieces and its buckets.
struct Period {
    from: i64,
    slices: Vec<Slice>,
    buckets: Buckets,
}

impl Period {
    fn of(range: &Range, interval: Interval) -> Result<Self, Error> {
        let (from, to) = range.seconds();
        Ok(Self {
            from,
            slices: pieces::split(from, to),
            buckets: interval.buckets(range)?,
        })
    }
}

/// What a trend reads, apart from its range: its SQL and binds, and the key it is kept under.
struct Shape<'a> {
    scope: &'a Scope,
    request: &'a Request,
    unit: i64,
    key: Arc<str>,
}

impl<'a> Shape<'a> {
    /// The shape of a trend whose days can be kept: a count, sum or distinct persons, with no
    /// person's property in its breakdown or filters, over periods whose buckets start on the
    /// grid of its stretches.
    fn of(scope: &'a Scope, request: &'a Request, periods: &[Period]) -> Option<Self> {
        let by_person = request.breakdown.as_ref().and_then(Dimension::person_key);
        if matches!(request.measure, Measure::Average(_))
            || by_person.is_some()
            || scope.filters.iter().any(|f| f.on_person_property())
        {
            return None;
        }
        // Ids are kept in the largest stretches the buckets allow; figures that add up in
        // quarter hours, whatever the zone and interval, so that every trend shares them.
        let units: &[i64] = match (request.interval, &request.measure) {
            (Interval::Minute, _) => &[60],
            (_, Measure::Uniques) => &[pieces::DAY, 3_600, 900],
            _ => &[900],
        };
        let unit = units.iter().copied().find(|unit| {
            periods
                .iter()
                .all(|period| period.buckets.on_grid(*unit, period.from))
        })?;
        let key = format!(
            "{}|{}|{unit}|{:?}|{:?}|{:?}|{:?}",
            scope.project,
            scope.include_bots,
            request.measure,
            request.breakdown,
            request.event,
            scope.filters
        );
        Some(Self {
            scope,
            request,
            unit,
            key: key.into(),
        })
    }

    fn uniques(&self) -> bool {
        matches!(self.request.measure, Measure::Uniques)
    }

    /// The figures of `slices`, or None when they are too many to keep.
    async fn read(
        &self,
        store: &Store,
        slices: &[Slice],
    ) -> Result<Option<Vec<(Slice, Arc<[Figure]>)>>, Error> {
        if slices.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let pieces = Pieces::new(slices);
        let days = pieces::days_of(slices);
        let (measure, ids) = if self.uniques() {
            (
                "toFloat64(0)".to_owned(),
                "arraySort(groupUniqArray(user_hash))",
            )
        } else {
            (self.request.measure.sql(), "emptyArrayUInt64()")
        };
        let template = FIGURES
            .replace("{unit}", &self.unit.to_string())
            .replace(
                "{value}",
                self.request.breakdown.as_ref().map_or("''", |d| d.sql()),
            )
            .replace("{measure}", &measure)
            .replace("{ids}", ids)
            .replace("{event}", self.request.event_filter());
        // ClickHouse checks `max_rows_to_group_by` per thread (and per shard), before they are
        // merged: the limit bounds what the merge sends.
        let most = MAX_PER_DAY * days.len();
        let template = template.replace("{limit}", &(most + 1).to_string());
        let bots_and_filters = self.scope.filters_sql();
        let sql = pieces.sql(&template, "timestamp", days.len(), &bots_and_filters);
        let mut query = pieces.bind_cut(store.query(&sql));
        if let Some(key) = self.request.breakdown.as_ref().and_then(|d| d.bind()) {
            query = query.bind(key);
        }
        if !self.uniques() {
            query = self.request.measure.bind(query);
        }
        query = pieces::bind_days(query.bind(self.scope.project.to_string()), &days);
        query = self.scope.bind_filters(query);
        if let Some(event) = &self.request.event {
            query = query.bind(event.as_str());
        }
        let query = pieces.bind_whole(query);
        let Some(rows) = pieces::fetch_bounded::<FigureRow>(store, query, most).await? else {
            return Ok(None);
        };
        let ids: usize = rows.iter().map(|row| row.ids.len()).sum();
        if ids > MAX_IDS_PER_READ {
            return Ok(None);
        }
        Ok(Some(collect(&pieces, slices, rows)))
    }
}

/// The rows read as figures per slice (every slice present).
fn collect(
    pieces: &Pieces<'_>,
    slices: &[Slice],
    rows: Vec<FigureRow>,
) -> Vec<(Slice, Arc<[Figure]>)> {
    let mut figures: HashMap<Slice, Vec<Figure>> = HashMap::new();
    let mut values: HashSet<Arc<str>> = HashSet::new();
    let none: Arc<[u64]> = Arc::new([]);
    for row in rows {
        let Some(slice) = pieces.slice_of(row.part, row.day) else {
            continue;
        };
        let value = match values.get(row.value.as_str()) {
            Some(value) => value.clone(),
            None => {
                let value: Arc<str> = row.value.into();
                values.insert(value.clone());
                value
            }
        };
        let ids = if row.ids.is_empty() {
            none.clone()
        } else {
            row.ids.into()
        };
        figures.entry(slice).or_default().push(Figure {
            at: row.at,
            value,
            amount: row.amount,
            ids,
        });
    }
    slices
        .iter()
        .map(|slice| (*slice, figures.remove(slice).unwrap_or_default().into()))
        .collect()
}

/// The series of the scope's range and, when compared, of the period before it, from kept
/// days; None when the trend cannot be kept (then it is read from the events).
pub(crate) async fn series(
    store: &Store,
    cache: &TrendDays,
    scope: &Scope,
    request: &Request,
) -> Result<Option<(Vec<TrendSeries>, Option<Vec<TrendSeries>>)>, Error> {
    let mut periods = vec![Period::of(&scope.range, request.interval)?];
    if request.compare {
        periods.push(Period::of(&scope.range.previous(), request.interval)?);
    }
    let Some(shape) = Shape::of(scope, request, &periods) else {
        return Ok(None);
    };
    if cache.too_fine(&shape.key) {
        return Ok(None);
    }
    let all: Vec<Slice> = periods
        .iter()
        .flat_map(|period| period.slices.iter().copied())
        .collect();
    let days = all.iter().map(|slice| slice.day);
    let (Some(first), Some(last)) = (days.clone().min(), days.max()) else {
        return Ok(None);
    };
    // Persons are counted through the links as they are now.
    let links = async {
        if shape.uniques() {
            cache.links().persons(store, scope.project).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (counters, persons) =
        tokio::try_join!(Counters::read(store, scope.project, first, last), links)?;
    let Some(figures) = figures(store, cache, &shape, &all, &counters).await? else {
        cache.found_too_fine(&shape.key);
        return Ok(None);
    };
    cache.found_fine(&shape.key);
    let combine = match &persons {
        Some(persons) => Combine::Persons(persons),
        None => Combine::Add,
    };
    // The breakdown values are chosen once, over the current period, for both.
    let breakdown = request.breakdown.is_some();
    let top = combine.top(breakdown, request.limit, &periods[0].slices, &figures);
    let mut filled = periods.iter().map(|period| {
        let points = combine.points(&top, &period.slices, &figures, &period.buckets);
        series::fill(request, &top, period.buckets.list(), &points)
    });
    let current = filled.next().unwrap_or_default();
    Ok(Some((current, filled.next())))
}

/// The figures of every slice: kept, or read a few days a statement and kept as soon as read
/// (a cold trend of a large project would outlast `max_execution_time` in one statement, and
/// then keep nothing); None when they are too many to keep, or distinct persons too many to
/// read in time.
async fn figures(
    store: &Store,
    cache: &TrendDays,
    shape: &Shape<'_>,
    all: &[Slice],
    counters: &Counters,
) -> Result<Option<Figures>, Error> {
    let mut figures = Figures::new();
    let mut wanted = Vec::new();
    for slice in all {
        match cache.get(&shape.key, slice, counters.of(slice.day)) {
            Some(kept) => drop(figures.insert(*slice, kept)),
            None => wanted.push(*slice),
        }
    }
    let ids = |figures: &[Figure]| figures.iter().map(|f| f.ids.len()).sum::<usize>();
    let mut held: usize = figures.values().map(|kept| ids(kept)).sum();
    for (index, part) in wanted.chunks(pieces::DAYS_PER_READ).enumerate() {
        // Ids cost more to read than to count in ClickHouse: distinct persons that cannot be
        // read in time are counted there for a while.
        let read = match shape.read(store, part).await {
            Ok(Some(read)) => read,
            Err(Error::Timeout) if shape.uniques() => return Ok(None),
            Ok(None) => return Ok(None),
            Err(err) => return Err(err),
        };
        held += read.iter().map(|(_, read)| ids(read)).sum::<usize>();
        // A range whose days could not all be kept would be read again at every call, and
        // empty the cache each time.
        if held > MAX_HELD_IDS {
            return Ok(None);
        }
        cache.keep(&shape.key, counters, &read, index == 0);
        figures.extend(read);
    }
    Ok(Some(figures))
}
