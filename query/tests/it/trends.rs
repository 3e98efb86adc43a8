//! `GET /api/query/trends`: series per Berlin day, sums and averages of a number property,
//! the previous period, uniques broken down by a property.

use std::collections::{BTreeMap, HashSet};

use reqwest::StatusCode;
use serde_json::json;

use crate::answers::{Fixture, berlin};

/// Pageviews per day, sums and averages per day against the week before, uniques by plan.
pub(crate) async fn series_per_day(fixture: &Fixture<'_>) {
    let (stack, admin, scope, events) = fixture.parts();
    let berlin = berlin();
    // Trends: pageviews per Berlin day, every day present.
    let mut per_day: BTreeMap<String, u64> = (2..=8)
        .map(|d| (format!("2026-11-{d:02}T00:00:00+01:00"), 0))
        .collect();
    for event in events.iter().filter(|e| e.event == "$pageview") {
        let day = event.at.to_zoned(berlin.clone()).date();
        *per_day.entry(format!("{day}T00:00:00+01:00")).or_default() += 1;
    }
    assert_eq!(
        per_day["2026-11-04T00:00:00+01:00"], 5,
        "the night owl counts on the 4th"
    );
    let (status, trends) = stack
        .get(
            Some(admin),
            &format!("/api/query/trends?{scope}&event=$pageview&interval=day"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trends}");
    let points: BTreeMap<String, u64> = trends["series"][0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            (
                p["t"].as_str().unwrap_or_default().to_owned(),
                p["value"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(points, per_day);

    // Sum and average of a number property per day, compared with the (empty) week before.
    let (status, sums) = stack
        .get(
            Some(admin),
            &format!(
                "/api/query/trends?{scope}&measure=sum&property=minutes&interval=day&compare=true"
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sums}");
    let mut minutes_per_day: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for event in events {
        let day = event.at.to_zoned(berlin.clone()).date();
        let entry = minutes_per_day
            .entry(format!("{day}T00:00:00+01:00"))
            .or_default();
        entry.0 += event.minutes;
        entry.1 += 1;
    }
    for point in sums["series"][0]["points"].as_array().expect("points") {
        let t = point["t"].as_str().unwrap_or_default();
        let expected = minutes_per_day.get(t).map_or(0, |(sum, _)| *sum);
        assert_eq!(point["value"].as_f64(), Some(expected as f64), "{t}");
    }
    let previous = sums["previous_series"][0]["points"]
        .as_array()
        .expect("previous");
    assert_eq!(previous.len(), 7);
    assert!(previous.iter().all(|p| p["value"].as_f64() == Some(0.0)));
    assert_eq!(sums["previous_range"]["to"], "2026-11-01T23:00:00Z");
    let (status, averages) = stack
        .get(
            Some(admin),
            &format!("/api/query/trends?{scope}&measure=avg&property=minutes&interval=day"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{averages}");
    for point in averages["series"][0]["points"].as_array().expect("points") {
        let t = point["t"].as_str().unwrap_or_default();
        let expected = minutes_per_day
            .get(t)
            .map_or(0.0, |(sum, n)| *sum as f64 / *n as f64);
        let got = point["value"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (got - expected).abs() < 1e-9,
            "{t}: {got} against {expected}"
        );
    }

    // Trends of unique users broken down by plan, top 1 and "other".
    let (status, by_plan) = stack
        .get(
            Some(admin),
            &format!("/api/query/trends?{scope}&measure=uniques&breakdown=property:plan&limit=1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{by_plan}");
    // Daily uniques: one per user and Berlin day.
    let daily_uniques = |plan: &str| {
        events
            .iter()
            .filter(|e| e.plan == plan)
            .map(|e| (e.user.as_str(), e.at.to_zoned(berlin.clone()).date()))
            .collect::<HashSet<_>>()
            .len()
    };
    let series = by_plan["series"].as_array().expect("series");
    assert_eq!(series.len(), 2, "{by_plan}");
    assert_eq!(series[0]["label"], "free");
    assert_eq!(series[1]["label"], "other");
    assert_eq!(series[0]["total"], json!(daily_uniques("free")));
    assert_eq!(series[1]["total"], json!(daily_uniques("pro")));
}
