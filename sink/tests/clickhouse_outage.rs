//! ClickHouse stopped for 60 seconds under load: ingest keeps answering 2xx, the sink acks
//! nothing while it is down, and every event is there once it is back.

mod common;

use std::time::Duration;

use async_nats::jetstream;
use devstack::test::{PrivateClickHouse, TestNats, spawn_service, wait_for_readiness};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig};
use serde_json::json;
use uuid::Uuid;

const KEY: &str = "ea_outage_key";

async fn ack_floor(js: &jetstream::Context) -> u64 {
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream("sink-clickhouse", "EVENTS")
        .await
        .expect("consumer");
    consumer
        .info()
        .await
        .expect("info")
        .ack_floor
        .stream_sequence
}

#[tokio::test(flavor = "multi_thread")]
async fn with_clickhouse_down_ingest_still_accepts_and_nothing_is_acked_until_it_returns() {
    let nats = TestNats::start().expect("nats");
    let mut clickhouse = PrivateClickHouse::start().expect("clickhouse");
    let project = Uuid::now_v7();
    let js = common::prepare_streams(&nats, project, KEY).await;
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
            batch: sink::consumer::BatchSettings {
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
