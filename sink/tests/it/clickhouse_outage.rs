//! ClickHouse stopped for 60 seconds under load: ingest keeps answering 2xx, the sink acks
//! nothing while it is down, and every event is there once it is back. A batch of several
//! months waits out a longer outage without any of its messages being delivered twice.

use std::time::Duration;

use async_nats::jetstream;
use devstack::test::{PrivateClickHouse, TestNats, spawn_service, wait_for_readiness};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig};
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
    let nats = TestNats::start().expect("nats");
    let mut clickhouse = PrivateClickHouse::start().expect("clickhouse");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(&nats, project, KEY).await;
    let ingest = spawn_service("ingest", {
        let config = ingest::Config::new(
            HttpConfig::ephemeral(),
            NatsConfig { url: nats.url() },
            ingest::AuthConfig::at("http://127.0.0.1:9".to_owned()),
        );
        move |l, s| ingest::run(config, l, s)
    })
    .expect("ingest");
    let sink = spawn_service("sink", {
        let config = sink::Config {
            http: HttpConfig::ephemeral(),
            nats: NatsConfig { url: nats.url() },
            clickhouse: ClickHouseConfig::local(clickhouse.server.http_port(), "analytics"),
            batch: sink::BatchSettings {
                max_wait_ms: 50,
                ..Default::default()
            },
        };
        move |l, s| sink::run(config, l, s)
    })
    .expect("sink");
    wait_for_readiness(&ingest, 200).expect("ingest ready");
    wait_for_readiness(&sink, 200).expect("sink ready");
    let http = reqwest::Client::new();
    let send = |count: usize| {
        let http = http.clone();
        let url = ingest.url("/batch/");
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
    let stored = |server: &devstack::clickhouse::ClickHouse| {
        server
            .query("SELECT count() FROM analytics.events")
            .map(|n| n.trim().to_owned())
            .unwrap_or_default()
    };

    send(1_000).await;
    devstack::wait::until_async("the first 1000 stored", Duration::from_secs(30), || async {
        stored(&clickhouse.server) == "1000"
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

    clickhouse.server.stop();
    wait_for_readiness(&sink, 503).expect("the sink reports ClickHouse down");
    send(2_000).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        ack_floor(&js).await,
        floor_before,
        "nothing acked while ClickHouse was down"
    );

    clickhouse.restart().expect("clickhouse restarts");
    devstack::wait::until_async("all 3000 stored", Duration::from_secs(90), || async {
        stored(&clickhouse.server) == "3000"
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: {} stored", stored(&clickhouse.server)));
    assert_eq!(
        clickhouse
            .server
            .query("SELECT uniqExact(event_id) FROM analytics.events")
            .expect("query")
            .trim(),
        "3000"
    );
}

/// The sink's metric `name` (its line `name value` in `/metrics`).
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_two_months_waits_out_an_outage_longer_than_ack_wait_delivered_once() {
    let nats = TestNats::start().expect("nats");
    let mut clickhouse = PrivateClickHouse::start().expect("clickhouse");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(&nats, project, KEY).await;
    // One batch of exactly the 20 events below: it closes when full.
    let sink = spawn_service("sink", {
        let config = sink::Config {
            http: HttpConfig::ephemeral(),
            nats: NatsConfig { url: nats.url() },
            clickhouse: ClickHouseConfig::local(clickhouse.server.http_port(), "analytics"),
            batch: sink::BatchSettings {
                max_messages: 20,
                max_wait_ms: 60_000,
                ..Default::default()
            },
        };
        move |l, s| sink::run(config, l, s)
    })
    .expect("sink");
    wait_for_readiness(&sink, 200).expect("sink ready");
    clickhouse.server.stop();
    wait_for_readiness(&sink, 503).expect("the sink reports ClickHouse down");

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

    clickhouse.restart().expect("clickhouse restarts");
    let stored = || {
        clickhouse
            .server
            .query("SELECT count(), uniqExact(toYYYYMM(date)) FROM analytics.events")
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
    assert_eq!(metric(&sink, "sink_already_stored_total"), Some(0.0));
    assert_eq!(
        metric(&sink, "sink_batch_rows_count"),
        Some(2.0),
        "one insert per month"
    );
}
