//! `GET /api/query/trends`: a measure of events per bucket, optionally broken down by a
//! dimension and compared with the previous period.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use clickhouse::Row;
use contract::query::{Amount, TrendPoint, TrendSeries, TrendsResponse};
use plumbing::error::QueryParams;
use serde::Deserialize;

use crate::api::{AppState, Params, QueryError, Scope};
use crate::params;
use crate::params::dimension::Dimension;
use crate::params::interval::{Interval, bucket_time};
use crate::params::range::Range;

/// What is measured per bucket.
#[derive(Debug, Clone)]
enum Measure {
    Count,
    Uniques,
    /// Sum of a numeric property (text that is not a number counts as 0).
    Sum(String),
    /// Average of a numeric property over the events that have it.
    Average(String),
}

impl Measure {
    fn parse(measure: Option<&str>, property: Option<&str>) -> Result<Self, QueryError> {
        let key = || {
            property
                .filter(|p| !p.is_empty())
                .ok_or_else(|| QueryError::Invalid("sum and avg need `property`".to_owned()))
                .and_then(|p| Ok(params::property_key(p)?.to_owned()))
        };
        match measure.unwrap_or("count") {
            "" | "count" => Ok(Self::Count),
            "uniques" => Ok(Self::Uniques),
            "sum" => Ok(Self::Sum(key()?)),
            "avg" => Ok(Self::Average(key()?)),
            other => Err(QueryError::Invalid(format!(
                "measure {other:?} is not count, uniques, sum or avg"
            ))),
        }
    }

    /// The aggregate, as Float64; `?` are the property key.
    fn sql(&self) -> &'static str {
        match self {
            Self::Count => "toFloat64(count())",
            Self::Uniques => "toFloat64(uniqCombined(user_hash))",
            Self::Sum(_) => "sum(toFloat64OrZero(prop_values[indexOf(prop_keys, ?)]))",
            Self::Average(_) => {
                "ifNull(avgIf(toFloat64OrZero(prop_values[indexOf(prop_keys, ?)]), has(prop_keys, ?)), 0)"
            }
        }
    }

    fn bind(&self, mut query: clickhouse::query::Query) -> clickhouse::query::Query {
        match self {
            Self::Count | Self::Uniques => {}
            Self::Sum(key) => query = query.bind(key.as_str()),
            Self::Average(key) => query = query.bind(key.as_str()).bind(key.as_str()),
        }
        query
    }

    fn whole(&self) -> bool {
        matches!(self, Self::Count | Self::Uniques)
    }
}

/// One trends request, checked.
struct Request {
    interval: Interval,
    measure: Measure,
    event: Option<String>,
    breakdown: Option<Dimension>,
    limit: usize,
}

#[derive(Debug, Row, Deserialize)]
struct Point {
    t: String,
    /// The breakdown value's place among the top values, from 1; 0 for the others (and for
    /// every row without a breakdown).
    label: u64,
    value: f64,
}

#[derive(Debug, Row, Deserialize)]
struct Ranked {
    label: String,
}

/// `GET /api/query/trends?event=&measure=count|uniques|sum|avg&property=&interval=&breakdown=
/// &limit=&compare=true`: one series per breakdown value (the top `limit`, 5 by default, then
/// "other"), every bucket present; with `compare`, the same series for the previous period.
#[utoipa::path(
    get,
    path = "/api/query/trends",
    tag = "query",
    security(("bearer" = [])),
    params(
        crate::openapi::ScopeParams,
        (
            "event" = Option<String>, Query, nullable = false,
            description = "Only events of this name (empty: all)"
        ),
        (
            "measure" = Option<String>, Query, nullable = false,
            pattern = "^(|count|uniques|sum|avg)$",
            description = "`count` (default) of events, `uniques` (distinct users), or `sum` or `avg` of the numeric property `property`"
        ),
        (
            "property" = Option<String>, Query, nullable = false,
            description = "The property `sum` and `avg` read (1 to 200 letters, digits, `$`, `_`, `-`, `.`, `:` or spaces)"
        ),
        (
            "interval" = Option<String>, Query, nullable = false,
            pattern = "^(|minute|hour|day|week|month)$",
            description = "Bucket size (default `day`); at most 2000 buckets"
        ),
        (
            "breakdown" = Option<String>, Query, nullable = false,
            description = "One series per value of this dimension (as `dimension` of top); empty: one series"
        ),
        (
            "limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 1000,
            description = "How many breakdown values get a series before the rest is `other` (default 5)"
        ),
        (
            "compare" = Option<String>, Query, nullable = false,
            description = "`true` or `1`: also the same series over the previous period of equal length; anything else: not"
        ),
    ),
    responses(
        (status = 200, description = "the series of the range (and of the previous period)", body = TrendsResponse),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
    )
)]
pub async fn trends(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        let get = |name: &str| params.get(name).map(String::as_str);
        let request = Request {
            interval: Interval::parse(get("interval"))?,
            measure: Measure::parse(get("measure"), get("property"))?,
            event: get("event").filter(|e| !e.is_empty()).map(str::to_owned),
            breakdown: get("breakdown")
                .filter(|b| !b.is_empty())
                .map(Dimension::parse)
                .transpose()?,
            limit: params::limit(get("limit"), 5)?,
        };
        let compare = matches!(get("compare"), Some("true" | "1"));
        // The breakdown values are chosen once, over the current period, for both.
        let top = top_labels(&state, &scope, &request).await?;
        let series = series(&state, &scope, &scope.range, &request, &top).await?;
        let mut body = TrendsResponse {
            scope: scope.to_wire(),
            interval: get("interval").unwrap_or("day").to_owned(),
            series,
            previous_range: None,
            previous_series: None,
        };
        if compare {
            let previous = scope.range.previous();
            body.previous_range = Some(previous.to_wire());
            body.previous_series =
                Some(self::series(&state, &scope, &previous, &request, &top).await?);
        }
        Ok(body)
    }
    .await;
    state.finish(outcome)
}

fn event_filter(request: &Request) -> &'static str {
    if request.event.is_some() {
        " AND event = ?"
    } else {
        ""
    }
}

/// The breakdown's top values over the whole range, by the measure.
async fn top_labels(
    state: &AppState,
    scope: &Scope,
    request: &Request,
) -> Result<Vec<String>, QueryError> {
    let Some(dimension) = &request.breakdown else {
        return Ok(Vec::new());
    };
    let text = format!(
        "SELECT {} AS label FROM events WHERE {}{} \
         GROUP BY label ORDER BY {} DESC, label LIMIT ?",
        dimension.sql(),
        scope.where_sql(),
        event_filter(request),
        request.measure.sql(),
    );
    let mut query = state.clickhouse.query(&text);
    if let Some(key) = dimension.bind() {
        query = query.bind(key);
    }
    query = scope.bind(query, &scope.range);
    if let Some(event) = &request.event {
        query = query.bind(event.as_str());
    }
    query = request.measure.bind(query);
    Ok(state
        .fetch_all::<Ranked>(query.bind(request.limit as u64))
        .await?
        .into_iter()
        .map(|r| r.label)
        .collect())
}

/// The series of `range`: one per top value (and "other"), every bucket present.
async fn series(
    state: &AppState,
    scope: &Scope,
    range: &Range,
    request: &Request,
    top: &[String],
) -> Result<Vec<TrendSeries>, QueryError> {
    let interval = request.interval;
    let buckets = interval.buckets(range)?;
    // Grouping by the value's place among the top values, a number, is a third faster than
    // grouping by the value itself on 10 M events.
    let label_sql = match &request.breakdown {
        None => "toUInt64(0)".to_owned(),
        Some(dimension) => format!("toUInt64(indexOf(?, {}))", dimension.sql()),
    };
    let text = format!(
        "SELECT {} AS t, {label_sql} AS label, {} AS value FROM events \
         WHERE {}{} GROUP BY t, label",
        interval.sql(),
        request.measure.sql(),
        scope.where_sql(),
        event_filter(request),
    );
    let mut query = state.clickhouse.query(&text);
    for _ in 0..interval.zone_binds() {
        query = query.bind(scope.zone_name.as_str());
    }
    if let Some(dimension) = &request.breakdown {
        query = query.bind(top.to_vec());
        if let Some(key) = dimension.bind() {
            query = query.bind(key);
        }
    }
    query = request.measure.bind(query);
    query = scope.bind(query, range);
    if let Some(event) = &request.event {
        query = query.bind(event.as_str());
    }
    let points: Vec<Point> = state.fetch_all(query).await?;

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
    let mut values: HashMap<(u64, &str), f64> = HashMap::new();
    for point in &points {
        values.insert((point.label, point.t.as_str()), point.value);
    }
    let number = |value: f64| {
        if request.measure.whole() {
            Amount::Whole(value as u64)
        } else {
            Amount::Fraction(value)
        }
    };
    Ok(labels
        .iter()
        .map(|&(index, label)| {
            let mut total = 0.0;
            let points: Vec<TrendPoint> = buckets
                .iter()
                .map(|bucket| {
                    let key = interval.key(*bucket);
                    let value = values.get(&(index, key.as_str())).copied().unwrap_or(0.0);
                    total += value;
                    TrendPoint {
                        t: bucket_time(*bucket, &scope.zone),
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
        .collect())
}

#[cfg(test)]
mod tests {
    use contract::query::{Scope, TimeRange};
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn range(from: &str, to: &str) -> TimeRange {
        TimeRange {
            from: from.to_owned(),
            to: to.to_owned(),
        }
    }

    fn series(values: &[Amount], total: Option<Amount>) -> Vec<TrendSeries> {
        vec![TrendSeries {
            label: "signup".to_owned(),
            breakdown_value: String::new(),
            total,
            points: ["2026-11-02T00:00:00+01:00", "2026-11-03T00:00:00+01:00"]
                .iter()
                .zip(values)
                .map(|(t, value)| TrendPoint {
                    t: (*t).to_owned(),
                    value: *value,
                })
                .collect(),
        }]
    }

    /// The answer as `json!` built it before the answers were typed: counts as integers, an
    /// average's total null, the previous period only when compared.
    #[test]
    fn a_typed_answer_is_the_json_the_handler_built_before() {
        let scope = Scope {
            project_id: Uuid::nil(),
            timezone: "Europe/Berlin".to_owned(),
            range: range("2026-11-01T23:00:00Z", "2026-11-03T23:00:00Z"),
        };
        let counted = TrendsResponse {
            scope: scope.clone(),
            interval: "day".to_owned(),
            series: series(
                &[Amount::Whole(2), Amount::Whole(0)],
                Some(Amount::Whole(2)),
            ),
            previous_range: None,
            previous_series: None,
        };
        assert_eq!(
            serde_json::to_value(&counted).expect("json"),
            json!({
                "project_id": "00000000-0000-0000-0000-000000000000",
                "timezone": "Europe/Berlin",
                "range": { "from": "2026-11-01T23:00:00Z", "to": "2026-11-03T23:00:00Z" },
                "interval": "day",
                "series": [{
                    "label": "signup",
                    "breakdown_value": "",
                    "total": 2,
                    "points": [
                        { "t": "2026-11-02T00:00:00+01:00", "value": 2 },
                        { "t": "2026-11-03T00:00:00+01:00", "value": 0 },
                    ],
                }],
            })
        );

        let averaged = TrendsResponse {
            scope,
            interval: "".to_owned(),
            series: series(&[Amount::Fraction(2.5), Amount::Fraction(0.0)], None),
            previous_range: Some(range("2026-10-30T23:00:00Z", "2026-11-01T23:00:00Z")),
            previous_series: Some(series(
                &[Amount::Fraction(1.0), Amount::Fraction(0.0)],
                None,
            )),
        };
        let text = serde_json::to_string(&averaged).expect("json");
        assert!(text.contains(r#""total":null"#), "{text}");
        assert!(text.contains(r#""value":1.0"#), "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).expect("parses")["previous_range"],
            json!({ "from": "2026-10-30T23:00:00Z", "to": "2026-11-01T23:00:00Z" })
        );
        let back: TrendsResponse = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, averaged);
    }
}
