//! `POST /api/query/funnel` and `POST /api/query/retention`, against what the generated events
//! say.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::{Fixture, Generated, berlin};

/// A three-step funnel, overall and by plan; retention by day.
pub(crate) async fn funnel_and_retention(fixture: &Fixture<'_>) {
    let (stack, admin, scope, events) = fixture.parts();
    let users = fixture.users();
    let berlin = berlin();
    // Funnel: home, then pricing, then signup, within an hour of the first step.
    let funnel_request = json!({
        "steps": [
            { "event": "$pageview", "filters": [{ "key": "path", "op": "eq", "value": "/home" }] },
            { "event": "$pageview", "filters": [{ "key": "path", "op": "eq", "value": "/pricing" }] },
            { "event": "signup" }
        ],
        "window_seconds": 3600
    });
    let response = stack
        .http
        .post(stack.query().url(&format!("/api/query/funnel?{scope}")))
        .bearer_auth(admin)
        .json(&funnel_request)
        .send()
        .await
        .expect("funnel");
    assert_eq!(response.status(), StatusCode::OK);
    let funnel: Value = response.json().await.expect("json");
    // Computed here: per user, the first /home, then a /pricing after it, then a signup after
    // that, all within the hour after the /home.
    let mut reached = [0u64; 3];
    let mut by_plan: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    let mut seconds_to_convert = Vec::new();
    for user in &users {
        let plan = events
            .iter()
            .find(|e| e.user == *user)
            .map_or("", |e| e.plan);
        let mine: Vec<&Generated> = events.iter().filter(|e| e.user == *user).collect();
        let step = |after: Timestamp, matches: &dyn Fn(&Generated) -> bool| {
            mine.iter()
                .filter(|e| matches(e) && e.at >= after)
                .map(|e| e.at)
                .min()
        };
        let Some(start) = step(Timestamp::MIN, &|e| {
            e.event == "$pageview" && e.path == "/home"
        }) else {
            continue;
        };
        let window_end = start + jiff::SignedDuration::from_hours(1);
        reached[0] += 1;
        let plan_reached = by_plan.entry(plan).or_default();
        plan_reached[0] += 1;
        let Some(second) = step(start, &|e| e.event == "$pageview" && e.path == "/pricing")
            .filter(|t| *t <= window_end)
        else {
            continue;
        };
        reached[1] += 1;
        plan_reached[1] += 1;
        if let Some(third) = step(second, &|e| e.event == "signup").filter(|t| *t <= window_end) {
            reached[2] += 1;
            plan_reached[2] += 1;
            seconds_to_convert.push(third.as_second() - start.as_second());
        }
    }
    assert_eq!(reached, [12, 6, 3], "the generated funnel");
    assert_eq!(by_plan.len(), 2);
    for (i, step) in funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        assert_eq!(step["count"], json!(reached[i]), "{funnel}");
        assert_eq!(
            step["conversion_from_first"],
            json!(reached[i] as f64 / reached[0] as f64)
        );
        let previous = if i == 0 { reached[0] } else { reached[i - 1] };
        assert_eq!(
            step["conversion_from_previous"],
            json!(reached[i] as f64 / previous as f64)
        );
    }
    assert_eq!(seconds_to_convert, [720, 720, 720]);
    assert_eq!(funnel["median_seconds_to_convert"], json!(720.0));

    // The same funnel broken down by the plan of the first step.
    let mut request = funnel_request.clone();
    request["breakdown"] = json!("property:plan");
    let response = stack
        .http
        .post(stack.query().url(&format!("/api/query/funnel?{scope}")))
        .bearer_auth(admin)
        .json(&request)
        .send()
        .await
        .expect("funnel");
    assert_eq!(response.status(), StatusCode::OK);
    let broken: Value = response.json().await.expect("json");
    let groups: BTreeMap<String, Vec<u64>> = broken["breakdown"]
        .as_array()
        .expect("breakdown")
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap_or_default().to_owned(),
                g["steps"]
                    .as_array()
                    .map(|s| s.iter().filter_map(|s| s["count"].as_u64()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let expected: BTreeMap<String, Vec<u64>> = by_plan
        .iter()
        .map(|(plan, counts)| ((*plan).to_owned(), counts.to_vec()))
        .collect();
    assert_eq!(groups, expected, "{broken}");

    // Retention by day: cohorts by the first pageview's Berlin day, returns 0..2 days later.
    let response = stack
        .http
        .post(stack.query().url(&format!("/api/query/retention?{scope}")))
        .bearer_auth(admin)
        .json(&json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "day", "periods": 3 }))
        .send()
        .await
        .expect("retention");
    assert_eq!(response.status(), StatusCode::OK);
    let retention: Value = response.json().await.expect("json");
    let mut expected: BTreeMap<String, (u64, Vec<u64>)> = BTreeMap::new();
    for user in &users {
        let days: Vec<jiff::civil::Date> = events
            .iter()
            .filter(|e| e.user == *user && e.event == "$pageview")
            .map(|e| e.at.to_zoned(berlin.clone()).date())
            .collect();
        let Some(first) = days.iter().min().copied() else {
            continue;
        };
        let cohort = expected.entry(first.to_string()).or_insert((0, vec![0; 3]));
        cohort.0 += 1;
        let offsets: HashSet<i32> = days.iter().map(|d| (*d - first).get_days()).collect();
        for offset in offsets.into_iter().filter(|o| (0..3).contains(o)) {
            cohort.1[offset as usize] += 1;
        }
    }
    let got: BTreeMap<String, (u64, Vec<u64>)> = retention["cohorts"]
        .as_array()
        .expect("cohorts")
        .iter()
        .map(|c| {
            (
                c["start"].as_str().unwrap_or_default().to_owned(),
                (
                    c["size"].as_u64().unwrap_or(0),
                    c["returned"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_u64).collect())
                        .unwrap_or_default(),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected, "{retention}");
    assert!(
        expected.values().any(|(_, returned)| returned[2] > 0),
        "some users come back two days later"
    );
}
