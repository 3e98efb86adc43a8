//! Trends of counts and sums from figures per UTC day that the service keeps between requests,
//! as the overview's are kept (`crate::overview`): a whole day's figures are read once and kept
//! with the day's change counter (`event_days`: every insert into the day and every erasure
//! moves it); a request reads the counters, then only the days whose counter moved and the two
//! cut days at a period's ends. A dashboard's trend of 30 days reads three days instead of
//! thirty, however often it is shown.
//!
//! A day's figures are the measure per stretch of `unit` seconds (a quarter hour; a minute for
//! minute buckets) and breakdown value. Every bucket starts at such a stretch's start
//! ([`Buckets::on_grid`]), so a stretch is in one bucket, and counts and sums add up exactly
//! across stretches and days. What does not add up, or does not depend on the day's events
//! alone, is read from the events as before: distinct persons, averages, and a person's
//! properties (as a breakdown or a filter).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use clickhouse::Row;
use contract::query::TrendSeries;
use serde::Deserialize;

use super::kept::{Figure, TrendDays};
use super::request::{Measure, Request};
use super::series::{self, Point};
use crate::error::{Error, clickhouse_code};
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

/// TOO_MANY_ROWS: ClickHouse stopped grouping at `max_rows_to_group_by`.
const TOO_MANY_ROWS: u32 = 158;

/// The measure of the events of pieces, per piece, stretch and breakdown value. Binds the cut
/// pieces, the breakdown's key, the measure's, the project, the days, the filters and bots
/// (as [`Scope::filters_sql`]), the event name and the whole days.
const FIGURES: &str = "SELECT {part} AS part, toUInt16(date) AS day, \
     intDiv(toInt64(timestamp), {unit}) * {unit} AS at, {value} AS value, {measure} AS amount \
     FROM events WHERE project_id = toUUID(?) AND date IN ({days}){bots}{event} \
     GROUP BY part, day, at, value HAVING part > 0 OR day IN ({whole}) LIMIT {limit}";

#[derive(Debug, Row, Deserialize)]
struct FigureRow {
    part: u8,
    day: u16,
    at: i64,
    value: String,
    amount: f64,
}

/// What a trend reads, apart from its range: its SQL and binds, and the key it is kept under.
struct Shape<'a> {
    scope: &'a Scope,
    request: &'a Request,
    unit: i64,
    key: Arc<str>,
}

impl<'a> Shape<'a> {
    /// The shape of a trend whose days can be kept: a count or sum, with no person's property
    /// in its breakdown or filters.
    fn of(scope: &'a Scope, request: &'a Request) -> Option<Self> {
        let by_person = request.breakdown.as_ref().and_then(Dimension::person_key);
        if !matches!(request.measure, Measure::Count | Measure::Sum(_))
            || by_person.is_some()
            || scope.filters.iter().any(|f| f.on_person_property())
        {
            return None;
        }
        let unit = if request.interval == Interval::Minute {
            60
        } else {
            900
        };
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
        let template = FIGURES
            .replace("{unit}", &self.unit.to_string())
            .replace(
                "{value}",
                self.request.breakdown.as_ref().map_or("''", |d| d.sql()),
            )
            .replace("{measure}", &self.request.measure.sql())
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
        query = self.request.measure.bind(query);
        query = pieces::bind_days(query.bind(self.scope.project.to_string()), &days);
        query = self.scope.bind_filters(query);
        if let Some(event) = &self.request.event {
            query = query.bind(event.as_str());
        }
        let query = pieces
            .bind_whole(query)
            .with_setting("max_rows_to_group_by", most.to_string())
            .with_setting("group_by_overflow_mode", "throw");
        let rows: Vec<FigureRow> = match store.fetch_all(query).await {
            Ok(rows) if rows.len() <= most => rows,
            Ok(_) => return Ok(None),
            Err(err) if clickhouse_code(&err) == Some(TOO_MANY_ROWS) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let mut figures: HashMap<Slice, Vec<Figure>> = HashMap::new();
        let mut values: HashSet<Arc<str>> = HashSet::new();
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
            figures.entry(slice).or_default().push(Figure {
                at: row.at,
                value,
                amount: row.amount,
            });
        }
        Ok(Some(
            slices
                .iter()
                .map(|slice| (*slice, figures.remove(slice).unwrap_or_default().into()))
                .collect(),
        ))
    }
}

/// The series of the scope's range and, when compared, of the period before it, from kept
/// days; None when the trend cannot be kept (then it is read from the events).
pub(crate) async fn series(
    store: &Store,
    cache: &TrendDays,
    scope: &Scope,
    request: &Request,
) -> Result<Option<(Vec<TrendSeries>, Option<Vec<TrendSeries>>)>, Error> {
    let Some(shape) = Shape::of(scope, request) else {
        return Ok(None);
    };
    if cache.too_fine(&shape.key) {
        return Ok(None);
    }
    // Each period: where it starts, its pieces and its buckets.
    let period = |range: &Range| {
        let (from, to) = range.seconds();
        Ok::<_, Error>((
            from,
            pieces::split(from, to),
            request.interval.buckets(range)?,
        ))
    };
    let mut periods = vec![period(&scope.range)?];
    if request.compare {
        periods.push(period(&scope.range.previous())?);
    }
    if !periods
        .iter()
        .all(|(from, _, buckets)| buckets.on_grid(shape.unit, *from))
    {
        return Ok(None);
    }
    let all: Vec<Slice> = periods
        .iter()
        .flat_map(|(_, slices, _)| slices.iter().copied())
        .collect();
    let days = all.iter().map(|slice| slice.day);
    let (Some(first), Some(last)) = (days.clone().min(), days.max()) else {
        return Ok(None);
    };
    let counters = Counters::read(store, scope.project, first, last).await?;
    let mut figures: HashMap<Slice, Arc<[Figure]>> = HashMap::new();
    let mut wanted = Vec::new();
    for slice in &all {
        match cache.get(&shape.key, slice, counters.of(slice.day)) {
            Some(kept) => drop(figures.insert(*slice, kept)),
            None => wanted.push(*slice),
        }
    }
    let Some(read) = shape.read(store, &wanted).await? else {
        cache.found_too_fine(&shape.key);
        return Ok(None);
    };
    cache.keep(&shape.key, &counters, &read);
    figures.extend(read);
    let mut answers = periods
        .iter()
        .map(|(_, slices, buckets)| sums(slices, &figures, buckets));
    let current = answers.next().unwrap_or_default();
    // The breakdown values are chosen once, over the current period, for both.
    let top = top_values(request, &current);
    let mut filled = periods
        .iter()
        .zip(std::iter::once(current).chain(answers))
        .map(|((_, _, buckets), sums)| {
            series::fill(request, &top, buckets.list(), &points(&top, &sums))
        });
    let current = filled.next().unwrap_or_default();
    Ok(Some((current, filled.next())))
}

/// Per breakdown value and bucket key, the measure of a period's pieces.
type Sums = HashMap<(Arc<str>, i64), f64>;

fn sums(slices: &[Slice], figures: &HashMap<Slice, Arc<[Figure]>>, buckets: &Buckets) -> Sums {
    let mut sums = Sums::new();
    for slice in slices {
        for figure in figures.get(slice).iter().flat_map(|f| f.iter()) {
            // A cut piece's first stretch may start before the piece; its rows are in the
            // bucket of the piece's start.
            let key = buckets.key_of(figure.at.max(slice.from));
            *sums.entry((figure.value.clone(), key)).or_default() += figure.amount;
        }
    }
    sums
}

/// The breakdown's top values over the period, by the measure (then by value), as the SQL of
/// the events orders them; none without a breakdown.
fn top_values(request: &Request, sums: &Sums) -> Vec<String> {
    if request.breakdown.is_none() {
        return Vec::new();
    }
    let mut totals: HashMap<&Arc<str>, f64> = HashMap::new();
    for ((value, _), amount) in sums {
        *totals.entry(value).or_default() += amount;
    }
    let mut ranked: Vec<(&Arc<str>, f64)> = totals.into_iter().collect();
    // ClickHouse puts NaN (a sum of "nan" texts) last whichever way it sorts.
    ranked.sort_by(|a, b| {
        (a.1.is_nan().cmp(&b.1.is_nan()))
            .then_with(|| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal))
            .then_with(|| a.0.cmp(b.0))
    });
    ranked
        .into_iter()
        .take(request.limit)
        .map(|(value, _)| value.to_string())
        .collect()
}

/// The sums as points: one per bucket and place among the top values (0: the rest).
fn points(top: &[String], sums: &Sums) -> Vec<Point> {
    let places: HashMap<&str, u64> = (1..)
        .zip(top)
        .map(|(place, value)| (value.as_str(), place))
        .collect();
    let mut by_label: HashMap<(u64, i64), f64> = HashMap::new();
    for ((value, t), amount) in sums {
        let label = places.get(&**value).copied().unwrap_or(0);
        *by_label.entry((label, *t)).or_default() += amount;
    }
    by_label
        .into_iter()
        .map(|((label, t), value)| Point { t, label, value })
        .collect()
}
