//! The overview without filters comes from days the service keeps between requests: a late
//! event into a day already read, and an erasure, show at the next request, and the figures
//! equal those the same overview gives with a filter that keeps every event (read straight
//! from the tables).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Stack, urlencode};

/// A pageview of `who` at `at` (RFC 3339).
fn pageview(who: &str, at: &str, path: &str) -> Value {
    json!({
        "event": "$pageview", "distinct_id": who, "timestamp": at,
        "properties": { "$current_url": format!("https://shop.example{path}") },
    })
}

/// The figures an overview answers, by name: (value, previous).
type Figures = Vec<(String, f64, f64)>;

fn figures(overview: &Value) -> Figures {
    let mut figures: Figures = overview["figures"]
        .as_object()
        .map(|figures| {
            figures
                .iter()
                .map(|(name, figure)| {
                    (
                        name.clone(),
                        figure["value"].as_f64().unwrap_or(-1.0),
                        figure["previous"].as_f64().unwrap_or(-1.0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    figures.sort_by(|a, b| a.0.cmp(&b.0));
    figures
}

fn value(figures: &Figures, name: &str) -> (f64, f64) {
    figures
        .iter()
        .find(|(found, _, _)| found == name)
        .map_or((-1.0, -1.0), |(_, value, previous)| (*value, *previous))
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_days_follow_late_events_and_erasures_and_equal_the_tables() {
    let stack = Stack::start_with(None);
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "Kept days", "timezone": "UTC" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();
    // Ann's session of two pageviews, Bob's of one; Dan in the week before.
    stack
        .send_batch(
            &key,
            &[
                pageview("ann", "2026-10-03T10:00:00Z", "/"),
                pageview("ann", "2026-10-03T10:05:00Z", "/pricing"),
                pageview("bob", "2026-10-04T12:00:00Z", "/"),
                pageview("dan", "2026-09-28T08:00:00Z", "/"),
            ],
        )
        .await;
    let scope = format!("project_id={project}&from=2026-10-01&to=2026-10-07");
    let every_event =
        urlencode(&json!([{ "key": "event", "op": "neq", "value": "none" }]).to_string());
    let read = |filtered: bool| {
        let stack = &stack;
        let admin = &admin;
        let path = if filtered {
            format!("/api/query/overview?{scope}&filter={every_event}")
        } else {
            format!("/api/query/overview?{scope}")
        };
        async move {
            let (status, overview) = stack.get(Some(admin), &path).await;
            assert_eq!(status, StatusCode::OK, "{overview}");
            figures(&overview)
        }
    };
    // Waits until the overview (from kept days) shows `events` this week and `sessions` (this
    // week and the last) and the tables agree (the sessions' view runs after the events are
    // visible, so for a moment a reader sees the events without their sessions, from the kept
    // days and the tables alike), then checks every figure against the tables' again and
    // returns them.
    let settled = |(events, sessions): (f64, (f64, f64)), what: &'static str| {
        let read = &read;
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let seen = loop {
                let seen = read(false).await;
                let counted =
                    value(&seen, "events").0 == events && value(&seen, "sessions") == sessions;
                if counted && seen == read(true).await {
                    break seen;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}: {seen:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(seen, read(false).await, "read again from the kept days");
            assert_eq!(seen, read(true).await, "the same straight from the tables");
            seen
        }
    };

    let first = settled((3.0, (2.0, 1.0)), "three events this week").await;
    assert_eq!(value(&first, "users"), (2.0, 1.0));
    assert_eq!(value(&first, "sessions"), (2.0, 1.0));
    assert_eq!(value(&first, "pageviews"), (3.0, 1.0));
    assert_eq!(value(&first, "bounce_rate").0, 0.5);
    assert_eq!(value(&first, "avg_session_seconds").0, 150.0);

    // A late event into a day already kept: Cat on October 3rd.
    stack
        .send_batch(&key, &[pageview("cat", "2026-10-03T15:00:00Z", "/docs")])
        .await;
    let late = settled((4.0, (3.0, 1.0)), "Cat's late event counted").await;
    assert_eq!(value(&late, "users"), (3.0, 1.0));
    assert_eq!(value(&late, "sessions"), (3.0, 1.0));

    // Cat erased: gone from the kept day too.
    let status = stack
        .delete(
            &admin,
            &format!("/api/admin/projects/{project}/persons/cat"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let erased = settled((3.0, (2.0, 1.0)), "Cat's event erased").await;
    assert_eq!(erased, first, "as before Cat came");
}
