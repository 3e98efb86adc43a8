//! The live feed over the analytics stack: an event shows within a second of ingest taking it,
//! and the active users are counted once it is stored.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn the_live_feed_shows_an_event_within_a_second_and_counts_active_users() {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "Live" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();
    devstack::wait::until_async(
        "the project known to query",
        Duration::from_secs(10),
        || async {
            stack
                .get(
                    Some(&admin),
                    &format!("/api/query/overview?project_id={project}"),
                )
                .await
                .0
                == StatusCode::OK
        },
    )
    .await
    .expect("project known");

    let mut feed = stack
        .http
        .get(
            stack
                .query()
                .url(&format!("/api/query/live?project_id={project}")),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .expect("live");
    assert_eq!(feed.status(), StatusCode::OK);
    assert_eq!(
        feed.headers()["content-type"].to_str().unwrap_or_default(),
        "text/event-stream"
    );
    // The first count arrives at once: the subscription is open.
    let mut received = String::new();
    while !received.contains("event: active_users") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), feed.chunk())
            .await
            .expect("a first message")
            .expect("reads")
            .expect("open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }

    let id = Uuid::new_v4().to_string();
    let response = stack
        .http
        .post(stack.ingest().url("/e/"))
        .json(
            &json!({ "api_key": key, "uuid": id, "event": "live-click", "distinct_id": "watcher" }),
        )
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), StatusCode::OK);
    let accepted = std::time::Instant::now();
    while !received.contains(&id) {
        let chunk = tokio::time::timeout(Duration::from_secs(1), feed.chunk())
            .await
            .expect("the event within a second")
            .expect("reads")
            .expect("open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(accepted.elapsed() < Duration::from_secs(1));
    assert!(received.contains("event: event"), "{received}");

    // Once stored, the next count includes the watcher.
    let counted = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if received.contains("{\"count\":1}") {
                return;
            }
            match feed.chunk().await {
                Ok(Some(chunk)) => received.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return,
            }
        }
    })
    .await;
    assert!(
        counted.is_ok() && received.contains("{\"count\":1}"),
        "{received}"
    );
}
