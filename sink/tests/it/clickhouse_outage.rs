//! ClickHouse stopped for 60 seconds under load: ingest keeps answering 2xx, the sink acks
//! nothing while it is down, and every event is there once it is back. A batch of several
//! months waits out a longer outage without any of its messages being delivered twice.

use std::time::Duration;

use async_nats::jetstream;
use devstack::stack::{Fault, TestStack};
use devstack::test::wait_for_readiness;
use serde_json::json;
use uuid::Uuid;

use crate::common::metric;

const KEY: &str = "ea_outage_key";

async fn consumer_info(js: &jetstream::Context) -> jetstream::consumer::Info {
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream("sink-clickhouse", "EVENTS")
        .await
        .expect("consumer");
    consumer.info().await.expect("info").clone()
}

async fn ack_floor(js: &jetstream::Context) -> u64 {
    consumer_info(js).await.ack_floor.stream_sequence
}

#[tokio::test(flavor = "multi_thread")]
async fn with_clickhouse_down_ingest_still_accepts_and_nothing_is_acked_until_it_returns() {
    let mut stack = TestStack::builder()
        .ingest()
        .sink()
        .fault(Fault::ClickHouseOutage)
        .start_servers()
        .expect("servers start");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(stack.nats(), project, KEY).await;
    stack.start_services().expect("ingest and the sink start");
    let http = reqwest::Client::new();
    let batch_url = stack.ingest().url("/batch/");
    let send = |count: usize| {
        let http = http.clone();
        let url = batch_url.clone();
        async move {
            for _ in 0..count / 100 {
                let batch: Vec<_> = (0..100)
                    .map(|i| json!({ "event": "outage", "distinct_id": format!("u{i}") }))
                    .collect();
                let response = http
                    .post(&url)
                    .json(&json!({ "api_key": KEY, "batch": batch }))
                    .send()
                    .await
                    .expect("ingest answers");
                assert_eq!(response.status(), reqwest::StatusCode::OK);
            }
        }
    };
    let stored = |stack: &TestStack| {
        stack
            .clickhouse_sql("SELECT count() FROM events")
            .map(|n| n.trim().to_owned())
            .unwrap_or_default()
    };

    send(1_000).await;
    devstack::wait::until_async("the first 1000 stored", Duration::from_secs(30), || async {
        stored(&stack) == "1000"
    })
    .await
    .expect("stored");
    // Every stored message acked (acks trail the insert by a moment).
    let mut events = js.get_stream("EVENTS").await.expect("stream");
    let floor_before = events.info().await.expect("info").state.last_sequence;
    devstack::wait::until_async("the first 1000 acked", Duration::from_secs(10), || async {
        ack_floor(&js).await == floor_before
    })
    .await
    .expect("acked");

    stack.stop_clickhouse().expect("clickhouse stops");
    wait_for_readiness(stack.sink(), 503).expect("the sink reports ClickHouse down");
    send(2_000).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        ack_floor(&js).await,
        floor_before,
        "nothing acked while ClickHouse was down"
    );

    stack.restart_clickhouse().expect("clickhouse restarts");
    devstack::wait::until_async("all 3000 stored", Duration::from_secs(90), || async {
        stored(&stack) == "3000"
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: {} stored", stored(&stack)));
    assert_eq!(
        stack
            .clickhouse_sql("SELECT uniqExact(event_id) FROM events")
            .expect("query")
            .trim(),
        "3000"
    );
}

/// The sink's metric `name` (its line `name value` in `/metrics`).
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_two_months_waits_out_an_outage_longer_than_ack_wait_delivered_once() {
    // One batch of exactly the 20 events below: it closes when full.
    let mut stack = TestStack::builder()
        .configure_sink(|config| {
            config.batch = sink::BatchSettings {
                max_messages: 20,
                max_wait_ms: 60_000,
                ..Default::default()
            };
        })
        .fault(Fault::ClickHouseOutage)
        .start_servers()
        .expect("servers start");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(stack.nats(), project, KEY).await;
    stack.start_services().expect("the sink starts");
    stack.stop_clickhouse().expect("clickhouse stops");
    wait_for_readiness(stack.sink(), 503).expect("the sink reports ClickHouse down");

    // Ten events of January and ten of February: the batch is stored one month after the
    // other, so February waits while January is retried.
    let subject = contract::streams::event_subject(&project.to_string(), "track");
    for (index, at) in ["2025-01-15T12:00:00Z", "2025-02-15T12:00:00Z"]
        .iter()
        .flat_map(|at| [at; 10])
        .enumerate()
    {
        let event = json!({
            "event_id": Uuid::now_v7(), "project_id": project, "kind": "track",
            "event": "imported", "distinct_id": format!("u{index}"), "timestamp": at,
            "received_at": at,
        });
        js.publish(subject.clone(), event.to_string().into())
            .await
            .expect("publishes")
            .await
            .expect("stored on EVENTS");
    }
    devstack::wait::until_async("the batch read", Duration::from_secs(30), || async {
        consumer_info(&js).await.num_ack_pending == 20
    })
    .await
    .expect("20 messages with the sink");
    // Past the consumer's 60 s ack_wait: a message not marked in progress meanwhile would be
    // delivered again.
    tokio::time::sleep(Duration::from_secs(75)).await;

    stack.restart_clickhouse().expect("clickhouse restarts");
    let stored = || {
        stack
            .clickhouse_sql("SELECT count(), uniqExact(toYYYYMM(date)) FROM events")
            .map(|rows| rows.trim().to_owned())
            .unwrap_or_default()
    };
    devstack::wait::until("the batch stored", Duration::from_secs(90), || {
        stored() == "20\t2"
    })
    .unwrap_or_else(|err| panic!("{err}: {}", stored()));
    let info = consumer_info(&js).await;
    assert_eq!(
        info.delivered.consumer_sequence, 20,
        "every message delivered once"
    );
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(metric(stack.sink(), "sink_already_stored_total"), Some(0.0));
    // The sink counts an insert once it returned and the days it wrote are marked changed, a
    // moment after its rows are visible: wait for the second month's count.
    devstack::wait::until(
        "one insert per month counted",
        Duration::from_secs(30),
        || metric(stack.sink(), "sink_batch_rows_count") == Some(2.0),
    )
    .unwrap_or_else(|err| {
        panic!(
            "{err}: {:?} inserts",
            metric(stack.sink(), "sink_batch_rows_count")
        )
    });
}
