//! Trends: a measure of events per bucket, optionally broken down by a dimension and compared
//! with the previous period.

mod combine;
mod days;
mod kept;
pub(crate) mod request;
mod series;

use clickhouse::Row;
use contract::query::TrendsResponse;
use serde::Deserialize;

pub(crate) use self::kept::TrendDays;
use self::request::Request;
use crate::error::Error;
use crate::pieces;
use crate::scope::Scope;
use crate::store::Store;

#[derive(Debug, Row, Deserialize)]
struct Ranked {
    label: String,
}

/// One series per breakdown value (the top `limit`, then "other"), every bucket present; with
/// `compare`, the same series for the previous period.
pub(crate) async fn trends(
    store: &Store,
    days: &TrendDays,
    scope: &Scope,
    request: Request,
) -> Result<TrendsResponse, Error> {
    let previous = request.compare.then(|| scope.range.previous());
    let kept = pieces::or_events(days::series(store, days, scope, &request).await, "trend")?;
    let (series, previous_series) = match kept {
        Some(kept) => kept,
        None => {
            // The breakdown values are chosen once, over the current period, for both.
            let top = top_labels(store, scope, &request).await?;
            let series = series::series(store, scope, &scope.range, &request, &top).await?;
            let previous_series = match &previous {
                Some(range) => Some(series::series(store, scope, range, &request, &top).await?),
                None => None,
            };
            (series, previous_series)
        }
    };
    Ok(TrendsResponse {
        scope: scope.to_wire(),
        interval: request.interval_name.clone(),
        series,
        previous_range: previous.map(|range| range.to_wire()),
        previous_series,
    })
}

/// The breakdown's top values over the whole range, by the measure.
async fn top_labels(store: &Store, scope: &Scope, request: &Request) -> Result<Vec<String>, Error> {
    let Some(dimension) = &request.breakdown else {
        return Ok(Vec::new());
    };
    let persons = request.persons(scope.project);
    let text = format!(
        "SELECT {} AS label FROM events{} WHERE {}{} \
         GROUP BY label ORDER BY {} DESC, label LIMIT ?",
        dimension.sql(),
        persons.sql,
        scope.where_sql(),
        request.event_filter(),
        request.measure.sql(),
    );
    let mut query = store.query(&text);
    if let Some(key) = dimension.bind() {
        query = query.bind(key);
    }
    query = scope.bind(persons.bind(query), &scope.range);
    if let Some(event) = &request.event {
        query = query.bind(event.as_str());
    }
    query = request.measure.bind(query);
    Ok(store
        .fetch_all::<Ranked>(query.bind(request.limit as u64))
        .await?
        .into_iter()
        .map(|r| r.label)
        .collect())
}

#[cfg(test)]
mod tests {
    use contract::query::{Amount, Scope, TimeRange, TrendPoint, TrendSeries};
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
            include_bots: false,
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
                "include_bots": false,
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
