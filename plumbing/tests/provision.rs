//! Stream provisioning against a real nats-server: idempotent, and a changed definition
//! updates the stream in place.

use std::time::Duration;

use async_nats::jetstream;
use devstack::test::TestNats;
use plumbing::streams::{Definitions, provision};

async fn context(nats: &TestNats) -> jetstream::Context {
    let client = async_nats::connect(nats.url())
        .await
        .expect("connects to nats");
    jetstream::new(client)
}

/// Every stream and consumer configuration as the server reports it.
async fn read_back(
    js: &jetstream::Context,
    defs: &Definitions,
) -> Vec<(serde_json::Value, String)> {
    let mut configs = Vec::new();
    for stream in &defs.streams {
        let mut handle = js.get_stream(&stream.name).await.expect("stream exists");
        let info = handle.info().await.expect("stream info");
        configs.push((
            serde_json::to_value(&info.config).expect("serializes"),
            info.created.to_string(),
        ));
    }
    for consumer in &defs.consumers {
        let name = consumer.config.durable_name.clone().expect("durable");
        let info = js
            .get_stream(&consumer.stream)
            .await
            .expect("stream exists")
            .consumer_info(&name)
            .await
            .expect("consumer exists");
        configs.push((
            serde_json::to_value(&info.config).expect("serializes"),
            info.created.to_string(),
        ));
    }
    configs
}

#[tokio::test]
async fn provisioning_twice_leaves_identical_streams_and_consumers() {
    let nats = TestNats::start().expect("nats starts");
    let js = context(&nats).await;
    let defs = Definitions::bundled().expect("definitions parse");

    provision(&js, &defs).await.expect("first provisioning");
    let first = read_back(&js, &defs).await;
    provision(&js, &defs).await.expect("second provisioning");
    let second = read_back(&js, &defs).await;

    assert_eq!(first.len(), 5, "three streams and two consumers");
    assert_eq!(first, second, "configuration and creation times unchanged");
    let events = &first[0].0;
    assert_eq!(events["name"], "EVENTS");
    assert_eq!(events["subjects"], serde_json::json!(["events.>"]));
    assert_eq!(events["storage"], "file");
    let sink = &first[3].0;
    assert_eq!(sink["durable_name"], "sink-clickhouse");
    assert_eq!(sink["ack_policy"], "explicit");
}

#[tokio::test]
async fn a_changed_definition_updates_the_stream_in_place() {
    let nats = TestNats::start().expect("nats starts");
    let js = context(&nats).await;
    let mut defs = Definitions::bundled().expect("definitions parse");
    provision(&js, &defs).await.expect("first provisioning");
    js.publish("events.p1.track", "{}".into())
        .await
        .expect("publishes")
        .await
        .expect("acked");

    let events = defs.stream_mut("EVENTS").expect("EVENTS is defined");
    events.max_age = Duration::from_secs(7 * 24 * 3600);
    events.description = Some("changed".to_owned());
    provision(&js, &defs)
        .await
        .expect("provisioning the change");

    let mut stream = js.get_stream("EVENTS").await.expect("stream exists");
    let info = stream.info().await.expect("stream info");
    assert_eq!(info.config.max_age, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(info.config.description.as_deref(), Some("changed"));
    assert_eq!(info.state.messages, 1, "the update kept the stored message");
}
