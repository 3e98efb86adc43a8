//! A client's retry that comes past `EVENTS`' duplicate window is a second message the stream
//! stores: the sink looks it up, as it does a redelivery, when the event reached ingest longer
//! after it happened than that window, and stores it once. A live event costs no lookup, even
//! in the batch of a late one: only the late rows are looked up.

use std::time::Duration;

use async_nats::jetstream;
use devstack::stack::{Service, TestStack};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::common::{KEY, Pipeline, metric};

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
    publish_as(js, project, (id, "u1"), ago, message_id).await;
}

/// [`publish`] of event `id` by `distinct_id`.
async fn publish_as(
    js: &jetstream::Context,
    project: Uuid,
    (id, distinct_id): (Uuid, &str),
    ago: time::Duration,
    message_id: &str,
) {
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| t.format(&Rfc3339).expect("time");
    let event = serde_json::json!({
        "event_id": id, "project_id": project, "kind": "track", "event": "signup",
        "distinct_id": distinct_id, "timestamp": at(now - ago), "received_at": at(now),
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

fn looked_up(stack: &TestStack) -> Option<f64> {
    metric(stack.sink(), "sink_rows_looked_up_total")
}

fn sessions_looked_up(stack: &TestStack) -> Option<f64> {
    metric(stack.sink(), "sink_session_persons_looked_up_total")
}

/// How many of `ids` the events table holds, once the sink has taken every message.
async fn stored_of(stack: &TestStack, ids: &[Uuid]) -> u64 {
    stack
        .sink_drained(Duration::from_secs(60))
        .await
        .expect("the sink takes every event");
    let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    stack
        .clickhouse_sql(&format!(
            "SELECT count() FROM events WHERE event_id IN ({})",
            list.join(", ")
        ))
        .expect("count")
        .trim()
        .parse()
        .expect("a number")
}

/// The sink on its own, over a project whose streams are ready: the tests publish to it.
async fn sink_on_a_project() -> (TestStack, Uuid, async_nats::jetstream::Context) {
    let mut stack = TestStack::builder()
        .sink()
        .clickhouse()
        .start_servers()
        .expect("servers start");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(stack.nats(), project, crate::common::KEY).await;
    stack.start_services().expect("the sink starts");
    (stack, project, js)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_past_the_duplicate_window_is_found_stored_and_a_live_event_is_not_looked_up() {
    let (mut stack, project, js) = sink_on_a_project().await;

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
    assert_eq!(looked_up(&stack), Some(0.0));

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

#[tokio::test(flavor = "multi_thread")]
async fn one_late_retry_among_many_live_events_is_the_only_row_looked_up() {
    let (mut stack, project, js) = sink_on_a_project().await;
    let late = Uuid::now_v7();
    publish(&js, project, late, time::Duration::hours(1), "late-first").await;
    assert_eq!(rows_of(&stack, late).await, 1);

    // With the sink stopped, the retry waits amid 500 live events; the restarted sink, which
    // remembers nothing it stored, reads them together.
    stack.stop(Service::Sink).expect("the sink stops");
    let live: Vec<Uuid> = (0..500).map(|_| Uuid::now_v7()).collect();
    for (index, id) in live.iter().enumerate() {
        if index == 250 {
            publish(&js, project, late, time::Duration::hours(1), "late-again").await;
        }
        publish(&js, project, *id, time::Duration::ZERO, &id.to_string()).await;
    }
    stack.restart(Service::Sink).expect("the sink starts again");

    assert_eq!(
        stored_of(&stack, &live).await,
        500,
        "every live event stored"
    );
    assert_eq!(
        rows_of(&stack, late).await,
        1,
        "the retry is not stored twice"
    );
    assert_eq!(
        already_stored(&stack),
        Some(1.0),
        "the retry was found stored"
    );
    assert_eq!(
        looked_up(&stack),
        Some(1.0),
        "only the late row was looked up, not its batch"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_late_retry_among_live_events_of_remembered_persons_looks_up_only_its_persons_sessions()
{
    let (stack, project, js) = sink_on_a_project().await;
    let late = Uuid::now_v7();
    publish(&js, project, late, time::Duration::hours(1), "late-first").await;
    assert_eq!(rows_of(&stack, late).await, 1);

    // 50 persons send an event each: the sink remembers them from then on.
    let persons: Vec<String> = (0..50).map(|n| format!("p{n}")).collect();
    let live = |_| Uuid::now_v7();
    let first: Vec<Uuid> = persons.iter().map(live).collect();
    for (id, person) in first.iter().zip(&persons) {
        publish_as(
            &js,
            project,
            (*id, person),
            time::Duration::ZERO,
            &id.to_string(),
        )
        .await;
    }
    assert_eq!(stored_of(&stack, &first).await, 50);
    let before = sessions_looked_up(&stack).expect("the sessions lookup is counted");

    // Each sends a second event, and the late retry comes amid them.
    let second: Vec<Uuid> = persons.iter().map(live).collect();
    for (index, (id, person)) in second.iter().zip(&persons).enumerate() {
        if index == 25 {
            publish(&js, project, late, time::Duration::hours(1), "late-again").await;
        }
        publish_as(
            &js,
            project,
            (*id, person),
            time::Duration::ZERO,
            &id.to_string(),
        )
        .await;
    }
    assert_eq!(stored_of(&stack, &second).await, 50);
    assert_eq!(
        rows_of(&stack, late).await,
        1,
        "the retry is not stored twice"
    );
    assert_eq!(
        sessions_looked_up(&stack).map(|after| after - before),
        Some(1.0),
        "only the late row's person was looked up for sessions, not the remembered ones beside it"
    );
    let one_session = stack
        .clickhouse_sql(&format!(
            "SELECT countIf(n = 2 AND s = 1) FROM (SELECT count() AS n, uniqExact(session_id) AS s \
             FROM events WHERE project_id = '{project}' AND distinct_id LIKE 'p%' \
             GROUP BY distinct_id)"
        ))
        .expect("sessions");
    assert_eq!(
        one_session.trim(),
        "50",
        "each person's two events are one session, continued from memory"
    );
}

/// The last sequence of `EVENTS`: it grows by one for each message the stream stores, and not
/// for one it drops as a duplicate.
async fn last_sequence(js: &jetstream::Context) -> u64 {
    js.get_stream(contract::streams::EVENTS_STREAM)
        .await
        .expect("EVENTS")
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence
}

/// A PostHog batch of `events` for the project of [`KEY`].
fn posthog(events: &[serde_json::Value]) -> Vec<u8> {
    serde_json::json!({ "api_key": KEY, "batch": events })
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_posthog_event_sent_again_through_ingest_past_the_window_is_stored_once() {
    let mut pipeline = Pipeline::start_on(TestStack::builder().sink()).await;
    let js = jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    );
    // A one-second duplicate window, so that the test need not wait a minute for it to pass
    // (until a service provisions the streams again as it starts: the sink restarted below).
    let mut config = js
        .get_stream(contract::streams::EVENTS_STREAM)
        .await
        .expect("EVENTS")
        .cached_info()
        .config
        .clone();
    config.duplicate_window = Duration::from_secs(1);
    js.update_stream(config)
        .await
        .expect("the window shortened");

    // An SDK's offline queue sends an event an hour after it happened, with no `sent_at`.
    let late = Uuid::now_v7();
    let hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .expect("time");
    let event = serde_json::json!({
        "uuid": late, "event": "offline", "distinct_id": "u1", "timestamp": hour_ago,
    });
    let (status, _) = pipeline
        .send("/batch/", posthog(std::slice::from_ref(&event)))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(rows_of(&pipeline.stack, late).await, 1);

    // It sends it again (its answer was lost), once the stream no longer knows it, while the
    // sink is down; then 100 live events.
    pipeline.stack.stop(Service::Sink).expect("the sink stops");
    let before = last_sequence(&js).await;
    devstack::wait::until_async(
        "the stream to store the retry as a new message",
        Duration::from_secs(30),
        || async {
            let (status, _) = pipeline
                .send("/batch/", posthog(std::slice::from_ref(&event)))
                .await;
            status == reqwest::StatusCode::OK && last_sequence(&js).await > before
        },
    )
    .await
    .expect("the duplicate window passes");
    let live: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    let events: Vec<serde_json::Value> = live
        .iter()
        .map(|id| serde_json::json!({ "uuid": id, "event": "live", "distinct_id": "u2" }))
        .collect();
    let (status, _) = pipeline.send("/batch/", posthog(&events)).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    pipeline
        .stack
        .restart(Service::Sink)
        .expect("the sink starts again");

    assert_eq!(stored_of(&pipeline.stack, &live).await, 100);
    assert_eq!(
        rows_of(&pipeline.stack, late).await,
        1,
        "the retry is not stored twice"
    );
    assert_eq!(already_stored(&pipeline.stack), Some(1.0));
    assert_eq!(
        looked_up(&pipeline.stack),
        Some(1.0),
        "only the late event was looked up"
    );
}
