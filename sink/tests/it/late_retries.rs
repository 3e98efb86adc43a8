//! A client's retry that comes past `EVENTS`' duplicate window is a second message the stream
//! stores: the sink looks it up, as it does a redelivery, when the event reached ingest longer
//! after it happened than that window, and stores it once. A live event costs no lookup.

use std::time::Duration;

use async_nats::jetstream;
use devstack::stack::{Service, TestStack};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::common::metric;

/// Publishes event `id` of `project` the way ingest does, under its own message id
/// `message_id` (a later one stands in for the duplicate window gone by): it reaches ingest now,
/// `ago` after it happened.
async fn publish(
    js: &jetstream::Context,
    project: Uuid,
    id: Uuid,
    ago: time::Duration,
    message_id: &str,
) {
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| t.format(&Rfc3339).expect("time");
    let event = serde_json::json!({
        "event_id": id, "project_id": project, "kind": "track", "event": "signup",
        "distinct_id": "u1", "timestamp": at(now - ago), "received_at": at(now),
    });
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, message_id);
    js.publish_with_headers(
        contract::streams::event_subject(&project.to_string(), "track"),
        headers,
        event.to_string().into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("stored on EVENTS");
}

/// The rows of event `id`, once the sink has taken every message.
async fn rows_of(stack: &TestStack, id: Uuid) -> u64 {
    stack
        .sink_drained(Duration::from_secs(60))
        .await
        .expect("the sink takes every event");
    stack
        .clickhouse_sql(&format!(
            "SELECT count() FROM events WHERE event_id = '{id}'"
        ))
        .expect("count")
        .trim()
        .parse()
        .expect("a number")
}

fn already_stored(stack: &TestStack) -> Option<f64> {
    metric(stack.sink(), "sink_already_stored_total")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_past_the_duplicate_window_is_found_stored_and_a_live_event_is_not_looked_up() {
    let mut stack = TestStack::builder()
        .sink()
        .clickhouse()
        .start_servers()
        .expect("servers start");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(stack.nats(), project, crate::common::KEY).await;
    stack.start_services().expect("the sink starts");

    // A browser's queue sends an event an hour after it happened; a live event is sent at once.
    let late = Uuid::now_v7();
    let live = Uuid::now_v7();
    publish(&js, project, late, time::Duration::hours(1), "late-first").await;
    publish(&js, project, live, time::Duration::ZERO, "live-first").await;
    assert_eq!(rows_of(&stack, late).await, 1);
    assert_eq!(rows_of(&stack, live).await, 1);

    // A restarted sink remembers no event it stored, so only a lookup can find them.
    stack.restart(Service::Sink).expect("the sink restarts");
    publish(&js, project, live, time::Duration::ZERO, "live-again").await;
    rows_of(&stack, live).await;
    assert_eq!(
        already_stored(&stack),
        Some(0.0),
        "a live event is not looked up (its copy, which the stream's window would have dropped, is stored)"
    );

    // Its retry, past the stream's duplicate window: another message of the same event.
    publish(&js, project, late, time::Duration::hours(1), "late-again").await;
    assert_eq!(
        rows_of(&stack, late).await,
        1,
        "the retry is not stored twice"
    );
    assert!(
        already_stored(&stack).is_some_and(|n| n >= 1.0),
        "the sink found it stored: {:?}",
        already_stored(&stack)
    );
}
