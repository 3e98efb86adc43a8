//! `GET /api/query/catalog`: the event names and property keys of a range.

use std::collections::HashMap;

use reqwest::StatusCode;

use crate::answers::Fixture;

/// Every event name and property key, with its count.
pub(crate) async fn names_and_keys(fixture: &Fixture<'_>) {
    let (stack, admin, scope, events) = fixture.parts();
    // Catalogue: event names and property keys with their counts.
    let (status, catalog) = stack
        .get(Some(admin), &format!("/api/query/catalog?{scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{catalog}");
    let mut names: HashMap<&str, u64> = HashMap::new();
    for event in events {
        *names.entry(event.event).or_default() += 1;
    }
    let listed: HashMap<String, u64> = catalog["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_owned(),
                e["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let names: HashMap<String, u64> = names.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(listed, names);
    let keys: HashMap<String, u64> = catalog["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap_or_default().to_owned(),
                e["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(keys.get("plan"), Some(&(events.len() as u64)), "{catalog}");
    assert_eq!(
        keys.get("minutes"),
        Some(&(events.len() as u64)),
        "{catalog}"
    );
}
