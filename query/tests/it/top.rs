//! `GET /api/query/top`: the most frequent values of a dimension.

use std::collections::{HashMap, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::{Fixture, Generated};

/// A page left and what its tracker told of it then (posthog-js's `$pageleave`).
pub(crate) struct Leave {
    user: String,
    path: &'static str,
    at: jiff::Timestamp,
    seconds: u64,
    /// The deepest scroll as a fraction of the page, when told.
    scrolled: Option<f64>,
}

/// Some visitors leaving some of their pages: every second pageview, left after 20 to 48
/// seconds, scrolled a quarter to all of the way; and the first pageview of every third user,
/// left after 5 seconds without a scroll told.
pub(crate) fn leaves(events: &[Generated]) -> Vec<Leave> {
    events
        .iter()
        .filter(|e| e.event == "$pageview" && (e.minutes == 10 || e.minutes == 0))
        .filter_map(|e| {
            let number: u64 = e.user.trim_start_matches("user-").parse().ok()?;
            let (seconds, scrolled) = match e.minutes {
                10 => (20 + number % 5 * 7, Some(0.25 * (1 + number % 4) as f64)),
                _ if number % 3 == 0 => (5, None),
                _ => return None,
            };
            Some(Leave {
                user: e.user.clone(),
                path: e.path,
                at: e.at + jiff::SignedDuration::from_secs(seconds as i64),
                seconds,
                scrolled,
            })
        })
        .collect()
}

/// `leaves` as posthog-js sends them.
pub(crate) fn leaves_batch(leaves: &[Leave]) -> Vec<Value> {
    leaves
        .iter()
        .map(|leave| {
            let mut properties = json!({
                "$current_url": format!("https://shop.example{}", leave.path),
                "$prev_pageview_pathname": leave.path,
                "$prev_pageview_duration": leave.seconds,
            });
            if let Some(scrolled) = leave.scrolled {
                properties["$prev_pageview_max_scroll_percentage"] = json!(scrolled);
            }
            json!({ "uuid": uuid::Uuid::new_v4(), "event": "$pageleave", "distinct_id": leave.user,
                    "timestamp": leave.at.to_string(), "properties": properties })
        })
        .collect()
}

/// Per path of `leaves`: the time on page (milliseconds, per visitor, each visitor's summed)
/// and the scroll depth (percent, per visitor told one, each visitor's deepest).
fn engagement(leaves: &[Leave]) -> HashMap<&str, (u64, Option<u64>)> {
    let mut visitors: HashMap<(&str, &str), (u64, Option<f64>)> = HashMap::new();
    for leave in leaves {
        let visitor = visitors.entry((leave.path, &leave.user)).or_default();
        visitor.0 += leave.seconds * 1000;
        visitor.1 = match (visitor.1, leave.scrolled) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let mut paths: HashMap<&str, Vec<(u64, Option<f64>)>> = HashMap::new();
    for ((path, _), told) in visitors {
        paths.entry(path).or_default().push(told);
    }
    paths
        .into_iter()
        .map(|(path, told)| {
            let time = told.iter().map(|t| t.0 as f64).sum::<f64>() / told.len() as f64;
            let depths: Vec<f64> = told.iter().filter_map(|t| t.1).map(|d| d * 100.0).collect();
            let depth = (!depths.is_empty())
                .then(|| (depths.iter().sum::<f64>() / depths.len() as f64).round() as u64);
            (path, (time.round() as u64, depth))
        })
        .collect()
}

/// The two most frequent paths, with their events and unique users, and the time on page and
/// scroll depth the visitors' trackers told as they left.
pub(crate) async fn top_paths(fixture: &Fixture<'_>) {
    let (stack, admin, scope, events) = fixture.parts();
    // Top paths with counts and unique users.
    let (status, top) = stack
        .get(
            Some(admin),
            &format!("/api/query/top?{scope}&dimension=path&limit=2"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{top}");
    let mut paths: HashMap<&str, (u64, HashSet<&str>)> = HashMap::new();
    for event in events {
        let entry = paths.entry(event.path).or_default();
        entry.0 += 1;
        entry.1.insert(&event.user);
    }
    let mut ranked: Vec<(&str, u64, usize)> = paths
        .iter()
        .map(|(path, (count, users))| (*path, *count, users.len()))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let left = leaves(events);
    let engaged = engagement(&left);
    let expected: Vec<Value> = ranked
        .iter()
        .take(2)
        .map(|(path, count, users)| {
            let mut value = json!({ "value": path, "count": count, "users": users });
            if let Some((time, depth)) = engaged.get(path) {
                value["time_on_page_ms"] = json!(time);
                if let Some(depth) = depth {
                    value["scroll_depth"] = json!(depth);
                }
            }
            value
        })
        .collect();
    assert!(
        expected.iter().all(|v| v.get("time_on_page_ms").is_some()),
        "both pages were left: {expected:?}"
    );
    assert_eq!(top["values"], json!(expected));
}
