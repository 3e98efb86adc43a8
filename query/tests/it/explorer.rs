//! `GET /api/query/events` and `GET /api/query/events/{id}`: the explorer.

use std::collections::HashSet;

use reqwest::StatusCode;

use crate::answers::Fixture;

/// Every event once over pages of four, newest first; then one event in full.
pub(crate) async fn pages_and_one_event(fixture: &Fixture<'_>) {
    let (stack, admin, scope, events) = fixture.parts();
    let project = &fixture.project;
    // Explorer: pages of 4, newest first, every event exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = stack
            .get(
                Some(admin),
                &format!("/api/query/events?{scope}&limit=4&cursor={cursor}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for event in page["events"].as_array().expect("events") {
            seen.push((
                event["timestamp"].as_str().unwrap_or_default().to_owned(),
                event["event_id"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    // Newest first (events of the same second in ClickHouse's UUID order).
    let times: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);
    let ids: HashSet<String> = seen.iter().map(|(_, id)| id.clone()).collect();
    let generated: HashSet<String> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(seen.len(), events.len());
    assert_eq!(ids, generated);

    // One event in full.
    let night = events.last().expect("night owl");
    let (status, one) = stack
        .get(
            Some(admin),
            &format!("/api/query/events/{}?project_id={project}", night.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["event"]["distinct_id"], "night-owl");
    assert_eq!(one["event"]["timestamp"], "2026-11-03T23:30:00Z");
    assert_eq!(one["event"]["context"]["path"], "/blog");
    assert_eq!(one["event"]["properties"]["plan"], "free");
}
