//! `GET /api/query/trends`: series per Berlin day, sums and averages of a number property,
//! the previous period, uniques broken down by a property; and buckets on days the clocks
//! change, in zones whose offsets are not whole hours.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::{Fixture, berlin};
use crate::helpers::Stack;

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

/// Days on which the zone's offset changes (both ways, by an hour or by half an hour), and
/// zones 5:30 and 5:45 hours from UTC.
const CLOCK_DAYS: [(&str, &str); 8] = [
    ("America/Los_Angeles", "2026-03-08"),
    ("America/Los_Angeles", "2026-11-01"),
    ("Europe/Berlin", "2026-03-29"),
    ("Europe/Berlin", "2026-10-25"),
    ("Asia/Kolkata", "2026-11-01"),
    ("Asia/Kathmandu", "2026-11-01"),
    ("Australia/Lord_Howe", "2026-04-05"),
    ("Australia/Lord_Howe", "2026-10-04"),
];

/// As the answer writes a bucket's start.
fn shown(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The start of the minute or hour bucket holding `at`: the local clock's minute or hour at
/// the offset the zone has at `at`, or the offset change, where that came later.
fn clock_bucket(zone: &TimeZone, at: Timestamp, minutes: bool) -> String {
    let zoned = at.to_zoned(zone.clone());
    let offset = zoned.offset();
    let civil = zoned.datetime();
    let minute = if minutes { civil.minute() } else { 0 };
    let truncated = civil.date().at(civil.hour(), minute, 0, 0);
    let mut start = offset.to_timestamp(truncated).expect("an instant");
    if zone.to_offset(start) != offset {
        start = zone
            .preceding(at + SignedDuration::from_secs(1))
            .next()
            .expect("the change")
            .timestamp();
    }
    shown(start, zone)
}

/// The bucket of `at` for `interval`, as the answer shows it.
fn bucket(zone: &TimeZone, at: Timestamp, interval: &str) -> String {
    let date = at.to_zoned(zone.clone()).date();
    let first = match interval {
        "minute" => return clock_bucket(zone, at, true),
        "hour" => return clock_bucket(zone, at, false),
        "week" => date - jiff::Span::new().days(date.weekday().to_monday_zero_offset()),
        "month" => date.first_of_month(),
        _ => date,
    };
    let start = first.to_zoned(zone.clone()).expect("a start");
    shown(start.timestamp(), zone)
}

/// Events of one zone: every 17 minutes and a few seconds from 90 minutes before each of its
/// days to 90 minutes after, and one on each side of every offset change.
fn clock_events(zone: &TimeZone, days: &[&str]) -> Vec<Timestamp> {
    let mut times = Vec::new();
    for day in days {
        let date: jiff::civil::Date = day.parse().expect("date");
        let start = date.to_zoned(zone.clone()).expect("start").timestamp();
        let end = date
            .tomorrow()
            .expect("day")
            .to_zoned(zone.clone())
            .expect("end")
            .timestamp();
        let mut at = start - SignedDuration::from_mins(90);
        let mut jitter = 0;
        while at < end + SignedDuration::from_mins(90) {
            times.push(at + SignedDuration::from_secs(jitter));
            jitter = (jitter + 7) % 60;
            at += SignedDuration::from_mins(17);
        }
        for change in zone.following(start).take_while(|t| t.timestamp() < end) {
            times.push(change.timestamp());
            times.push(change.timestamp() - SignedDuration::from_secs(1));
        }
    }
    times
}

/// Per zone and day, for every interval: the buckets are the ones the local clock shows (25
/// hours when clocks go back, 23 when they go forward, a half-hour bucket where the offset
/// moves by half an hour), each event is in the bucket holding it, and every interval's
/// buckets add up to the day's events. Then the same statements give the same answers on
/// current ClickHouse.
#[tokio::test(flavor = "multi_thread")]
async fn buckets_follow_the_clock_across_offset_changes_and_add_up_to_the_day() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let mut zones: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (zone, day) in CLOCK_DAYS {
        zones.entry(zone).or_default().push(day);
    }
    let mut projects = BTreeMap::new();
    let mut sent = 0;
    for (name, days) in &zones {
        let zone = TimeZone::get(name).expect("zone");
        let created = stack
            .create_project(&admin, json!({ "name": name, "timezone": name }))
            .await;
        let key = created["write_key"].as_str().expect("write key");
        let times = clock_events(&zone, days);
        let batch: Vec<Value> = times
            .iter()
            .enumerate()
            .map(|(i, at)| {
                json!({ "event": "tick", "distinct_id": format!("user-{}", i % 5), "timestamp": at.to_string() })
            })
            .collect();
        stack.send_batch(key, &batch).await;
        sent += batch.len();
        projects.insert(
            *name,
            (created["id"].as_str().expect("id").to_owned(), times),
        );
    }
    let (server, database) = stack.clickhouse();
    devstack::wait::until("the events stored", Duration::from_secs(60), || {
        server
            .query_in(database, "SELECT uniqExact(event_id) FROM events")
            .is_ok_and(|count| count.trim() == sent.to_string())
    })
    .expect("stored");

    for (name, day) in CLOCK_DAYS {
        let zone = TimeZone::get(name).expect("zone");
        let (project, times) = &projects[name];
        let date: jiff::civil::Date = day.parse().expect("date");
        let start = date.to_zoned(zone.clone()).expect("start").timestamp();
        let end = date
            .tomorrow()
            .expect("day")
            .to_zoned(zone.clone())
            .expect("end")
            .timestamp();
        let inside: Vec<Timestamp> = times
            .iter()
            .copied()
            .filter(|t| (start..end).contains(t))
            .collect();
        for interval in ["minute", "hour", "day", "week", "month"] {
            // Every bucket the day holds, from its minutes, and the events of each.
            let mut expected: Vec<(String, u64)> = Vec::new();
            let mut minute = start;
            while minute < end {
                let label = bucket(&zone, minute, interval);
                if expected.last().is_none_or(|(last, _)| *last != label) {
                    expected.push((label, 0));
                }
                minute += SignedDuration::from_mins(1);
            }
            for at in &inside {
                let label = bucket(&zone, *at, interval);
                let slot = expected.iter_mut().find(|(l, _)| *l == label);
                slot.unwrap_or_else(|| panic!("{name} {day}: no bucket {label}"))
                    .1 += 1;
            }
            let (status, body) = stack
                .get(
                    Some(&admin),
                    &format!("/api/query/trends?project_id={project}&from={day}&to={day}&interval={interval}"),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let points: Vec<(String, u64)> = body["series"][0]["points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| {
                    (
                        p["t"].as_str().unwrap_or_default().to_owned(),
                        p["value"].as_u64().unwrap_or(u64::MAX),
                    )
                })
                .collect();
            assert_eq!(
                points.len(),
                expected.len(),
                "{name} {day} by {interval}: {points:?}"
            );
            assert_eq!(points, expected, "{name} {day} by {interval}");
            let total: u64 = points.iter().map(|(_, n)| n).sum();
            assert_eq!(total, inside.len() as u64, "{name} {day} by {interval}");
            assert_eq!(body["series"][0]["total"], json!(inside.len()));
        }
    }

    crate::current_clickhouse::same_answers_on_current_clickhouse(&stack, &sql_log);
}
