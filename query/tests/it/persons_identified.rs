//! Persons end to end: identifying events sent the way posthog-node and Segment's node library
//! send them go through ingest (the link on `PERSONS`) and the sink (the mapping in
//! `person_ids`), and query counts the ids they linked as one person, events sent before the
//! link included.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::Stack;

/// A project of its own: its id and write key.
async fn project(stack: &Stack, admin: &str, name: &str) -> (String, String) {
    let created = stack
        .create_project(admin, json!({ "name": name, "timezone": "UTC" }))
        .await;
    (
        created["id"].as_str().expect("project id").to_owned(),
        created["write_key"].as_str().expect("write key").to_owned(),
    )
}

/// Waits until the sink stored `events` events of `project` and linked `ids` of its ids.
fn wait_for(stack: &Stack, project: &str, events: usize, ids: usize) {
    let (server, database) = stack.clickhouse();
    let count = |sql: String| {
        server
            .query_in(database, &sql)
            .map(|count| count.trim().to_owned())
            .unwrap_or_default()
    };
    devstack::wait::until(
        "the events stored and linked",
        Duration::from_secs(60),
        || {
            count(format!(
                "SELECT count() FROM events WHERE project_id = '{project}'"
            )) == events.to_string()
                && count(format!(
                    "SELECT uniqExact(distinct_id) FROM person_ids WHERE project_id = '{project}'"
                )) == ids.to_string()
        },
    )
    .expect("stored and linked");
}

/// Uniques, the funnel from `first` to `then` and the retention of `first` over three days
/// from 2026-11-02, of `project`.
async fn figures(stack: &Stack, admin: &str, project: &str, first: &str, then: &str) -> Value {
    let scope = format!("project_id={project}&from=2026-11-02&to=2026-11-04");
    let (status, uniques) = stack
        .get(
            Some(admin),
            &format!("/api/query/trends?{scope}&measure=uniques&interval=week"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{uniques}");
    let post = async |path: &str, body: Value| -> Value {
        let response = stack
            .http
            .post(stack.query().url(&format!("{path}?{scope}")))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.expect("json")
    };
    let funnel = post(
        "/api/query/funnel",
        json!({ "steps": [{ "event": first }, { "event": then }], "window_seconds": 86400 }),
    )
    .await;
    let retention = post(
        "/api/query/retention",
        json!({ "start_event": first, "return_event": first, "period": "day", "periods": 3 }),
    )
    .await;
    json!({
        "uniques": uniques["series"][0]["total"],
        "funnel": [funnel["steps"][0]["count"], funnel["steps"][1]["count"]],
        "cohorts": retention["cohorts"].as_array().map(|c| c.iter().map(|c| json!([c["start"], c["size"], c["returned"]])).collect::<Vec<_>>()),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn posthog_and_segment_identities_sent_through_ingest_count_as_one_person() {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");

    // posthog-node: anonymous pageviews as anon-1, `$identify` to user-1, a purchase as
    // user-1; the next day a pageview on a second device as anon-2, which `$create_alias`
    // then joins to user-1.
    let (posthog, key) = project(&stack, &admin, "PostHog persons").await;
    let event = |name: &str, id: &str, at: &str, properties: Value| {
        json!({ "uuid": Uuid::now_v7(), "event": name, "distinct_id": id, "timestamp": at,
                "properties": properties })
    };
    let batch = [
        event("$pageview", "anon-1", "2026-11-02T10:00:00Z", json!({})),
        event(
            "$identify",
            "user-1",
            "2026-11-02T10:05:00Z",
            json!({ "$anon_distinct_id": "anon-1" }),
        ),
        event("purchase", "user-1", "2026-11-02T10:10:00Z", json!({})),
        event("$pageview", "anon-2", "2026-11-03T09:00:00Z", json!({})),
        event(
            "$create_alias",
            "user-1",
            "2026-11-03T09:01:00Z",
            json!({ "alias": "anon-2" }),
        ),
    ];
    stack.send_batch(&key, &batch).await;
    wait_for(&stack, &posthog, batch.len(), 3);
    assert_eq!(
        figures(&stack, &admin, &posthog, "$pageview", "purchase").await,
        json!({
            "uniques": 1,
            "funnel": [1, 1],
            "cohorts": [["2026-11-02", 1, [1, 1, 0]]],
        })
    );

    // Segment's node library: a product viewed anonymously, `identify` with the anonymousId
    // and the userId, the order as the user.
    let (segment, key) = project(&stack, &admin, "Segment persons").await;
    let message = |kind: &str, fields: Value| {
        let mut message =
            json!({ "type": kind, "messageId": format!("node-next-{}", Uuid::now_v7()) });
        if let (Some(message), Some(fields)) = (message.as_object_mut(), fields.as_object()) {
            message.extend(fields.clone());
        }
        message
    };
    let batch = json!({ "writeKey": key, "batch": [
        message("track", json!({ "event": "Product Viewed", "anonymousId": "s-anon", "timestamp": "2026-11-02T10:00:00Z" })),
        message("identify", json!({ "userId": "s-user", "anonymousId": "s-anon", "traits": { "plan": "pro" }, "timestamp": "2026-11-02T10:01:00Z" })),
        message("track", json!({ "event": "Order Completed", "userId": "s-user", "timestamp": "2026-11-02T10:02:00Z" })),
    ] });
    let response = stack
        .http
        .post(stack.ingest().url("/v1/batch"))
        .json(&batch)
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), StatusCode::OK);
    wait_for(&stack, &segment, 3, 2);
    assert_eq!(
        figures(
            &stack,
            &admin,
            &segment,
            "Product Viewed",
            "Order Completed"
        )
        .await,
        json!({
            "uniques": 1,
            "funnel": [1, 1],
            "cohorts": [["2026-11-02", 1, [1, 0, 0]]],
        })
    );
    let scope = format!("project_id={segment}&from=2026-11-02&to=2026-11-04");
    let (status, persons) = stack
        .get(Some(&admin), &format!("/api/query/persons?{scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{persons}");
    assert_eq!(
        persons["persons"][0]["distinct_ids"],
        json!(["s-anon", "s-user"])
    );
    assert_eq!(
        persons["persons"][0]["properties"]["plan"],
        json!("pro"),
        "traits: {persons}"
    );
}
