//! The series of one period: the measure per bucket and breakdown value in one statement, then
//! every bucket filled in. The buckets are spans of instants computed before the SQL runs
//! ([`crate::params::interval`]); the SQL only gives each row its bucket's key.

use std::collections::HashMap;

use clickhouse::Row;
use contract::query::{Amount, TrendPoint, TrendSeries};
use serde::Deserialize;

use super::request::{Measure, Request};
use crate::error::Error;
use crate::params::interval::{Bucket, Buckets};
use crate::params::range::Range;
use crate::scope::Scope;
use crate::store::Store;

#[derive(Debug, Row, Deserialize)]
pub(super) struct Point {
    /// The bucket's key.
    pub(super) t: i64,
    /// The breakdown value's place among the top values, from 1; 0 for the others (and for
    /// every row without a breakdown).
    pub(super) label: u64,
    pub(super) value: f64,
}

/// The series of `range`: one per top value (and "other"), every bucket present.
pub(super) async fn series(
    store: &Store,
    scope: &Scope,
    range: &Range,
    request: &Request,
    top: &[String],
) -> Result<Vec<TrendSeries>, Error> {
    let buckets = request.interval.buckets(range)?;
    let points = points(store, scope, range, request, top, &buckets).await?;
    Ok(fill(request, top, buckets.list(), &points))
}

/// The measure per bucket and breakdown index, as ClickHouse groups them.
async fn points(
    store: &Store,
    scope: &Scope,
    range: &Range,
    request: &Request,
    top: &[String],
    buckets: &Buckets,
) -> Result<Vec<Point>, Error> {
    // Grouping by the value's place among the top values, a number, is a third faster than
    // grouping by the value itself on 10 M events.
    // Without top values (the current period has no events) every row is one of the rest:
    // ClickHouse 18.16 refuses `indexOf` of an empty array.
    let ranked = request.breakdown.as_ref().filter(|_| !top.is_empty());
    let label_sql = match ranked {
        None => "toUInt64(0)".to_owned(),
        Some(dimension) => format!("toUInt64(indexOf(?, {}))", dimension.sql()),
    };
    let persons = request.persons(scope.project);
    let text = format!(
        "SELECT {} AS t, {label_sql} AS label, {} AS value FROM events{} \
         WHERE {}{} GROUP BY t, label",
        buckets.sql(),
        request.measure.sql(),
        persons.sql,
        scope.where_sql(),
        request.event_filter(),
    );
    let mut query = buckets.bind(store.query(&text));
    if let Some(dimension) = ranked {
        query = query.bind(top.to_vec());
        if let Some(key) = dimension.bind() {
            query = query.bind(key);
        }
    }
    query = persons.bind(request.measure.bind(query));
    query = scope.bind(query, range);
    if let Some(event) = &request.event {
        query = query.bind(event.as_str());
    }
    Ok(store.fetch_all(query).await?)
}

/// One series per label with a point for every bucket (0 where ClickHouse had no row); one
/// point per label and bucket.
pub(super) fn fill(
    request: &Request,
    top: &[String],
    buckets: &[Bucket],
    points: &[Point],
) -> Vec<TrendSeries> {
    // Each series by its index: 1.. for the top values, 0 for the rest (and for the one series
    // without a breakdown). A top value spelled "$other" stays a series of its own.
    let breakdown = request.breakdown.is_some();
    let mut labels: Vec<(u64, &str)> = if breakdown {
        (1..).zip(top.iter().map(String::as_str)).collect()
    } else {
        vec![(0, "")]
    };
    if breakdown && points.iter().any(|p| p.label == 0) {
        labels.push((0, "$other"));
    }
    let mut values: HashMap<(u64, i64), f64> = HashMap::new();
    for point in points {
        values.insert((point.label, point.t), point.value);
    }
    let number = |value: f64| {
        if request.measure.whole() {
            Amount::Whole(value as u64)
        } else {
            Amount::Fraction(value)
        }
    };
    labels
        .iter()
        .map(|&(index, label)| {
            let mut total = 0.0;
            let points: Vec<TrendPoint> = buckets
                .iter()
                .map(|bucket| {
                    let value = values.get(&(index, bucket.key)).copied().unwrap_or(0.0);
                    total += value;
                    TrendPoint {
                        t: bucket.time(),
                        value: number(value),
                    }
                })
                .collect();
            let shown = match (breakdown, index) {
                (false, _) => request
                    .event
                    .clone()
                    .unwrap_or_else(|| "all events".to_owned()),
                (true, 0) => "other".to_owned(),
                (true, _) => label.to_owned(),
            };
            // A sum of averages means nothing: an average series has no total.
            let total = match request.measure {
                Measure::Average(_) => None,
                _ => Some(number(total)),
            };
            TrendSeries {
                label: shown,
                breakdown_value: label.to_owned(),
                total,
                points,
            }
        })
        .collect()
}
