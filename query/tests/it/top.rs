//! `GET /api/query/top`: the most frequent values of a dimension.

use std::collections::{HashMap, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::Fixture;

/// The two most frequent paths, with their events and unique users.
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
    let expected: Vec<Value> = ranked
        .iter()
        .take(2)
        .map(|(path, count, users)| json!({ "value": path, "count": count, "users": users }))
        .collect();
    assert_eq!(top["values"], json!(expected));
}
