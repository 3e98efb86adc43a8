//! Stream provisioning against a real nats-server: idempotent, and a changed definition
//! updates the stream in place.

use std::time::Duration;

use async_nats::jetstream;
use devstack::test::TestNats;
use plumbing::streams::{Definitions, provision};

async fn context(nats: &TestNats) -> jetstream::Context {
    let client = plumbing::streams::connect(nats.url())
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

    assert_eq!(first.len(), 8, "five streams and three consumers");
    assert_eq!(first, second, "configuration and creation times unchanged");
    let history = &first[0].0;
    assert_eq!(history["name"], "EVENTS_HISTORY");
    assert_eq!(history["sources"][0]["name"], "EVENTS");
    let events = &first[1].0;
    assert_eq!(events["name"], "EVENTS");
    assert_eq!(events["subjects"], serde_json::json!(["events.>"]));
    assert_eq!(events["storage"], "file");
    assert_eq!(events["retention"], "interest");
    let sink = &first[5].0;
    assert_eq!(sink["durable_name"], "sink-clickhouse");
    assert_eq!(sink["ack_policy"], "explicit");
    let persons = &first[7].0;
    assert_eq!(persons["durable_name"], "sink-persons");
    assert_eq!(persons["max_ack_pending"], 1, "one link at a time");
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

/// The `EVENTS` of earlier releases: every event kept 30 days (limits retention).
const EVENTS_BEFORE: &str = r#"{
  "name": "EVENTS", "subjects": ["events.>"], "retention": "limits", "max_bytes": 10737418240,
  "max_age": 2592000000000000, "storage": "file", "discard": "new", "num_replicas": 1,
  "duplicate_window": 600000000000
}"#;

#[tokio::test]
async fn an_upgrade_keeps_the_old_events_as_history_and_only_the_unstored_as_backlog() {
    let nats = TestNats::start().expect("nats starts");
    let js = context(&nats).await;
    let before: jetstream::stream::Config = serde_json::from_str(EVENTS_BEFORE).expect("config");
    js.create_stream(before).await.expect("the old EVENTS");
    let defs = Definitions::bundled().expect("definitions parse");
    let sink = defs
        .consumers
        .iter()
        .find(|c| c.stream == "EVENTS")
        .expect("the sink's consumer");
    let consumer = js
        .create_consumer_on_stream(sink.config.clone(), "EVENTS")
        .await
        .expect("the sink's consumer");
    for n in 0..5 {
        js.publish(format!("events.p1.e{n}"), "{}".into())
            .await
            .expect("publishes")
            .await
            .expect("acked");
    }
    // The old sink stored and acked the first three.
    let mut batch = consumer
        .fetch()
        .max_messages(3)
        .messages()
        .await
        .expect("fetch");
    let mut acked = 0;
    while let Some(message) = futures_util::StreamExt::next(&mut batch).await {
        message.expect("message").double_ack().await.expect("ack");
        acked += 1;
    }
    assert_eq!(acked, 3);

    provision(&js, &defs)
        .await
        .expect("provisioning the new layout");

    let count = |name: &'static str| {
        let js = js.clone();
        async move {
            let mut stream = js.get_stream(name).await.expect("stream");
            stream.info().await.expect("info").state.messages
        }
    };
    devstack::wait::until_async(
        "the history holds all five",
        Duration::from_secs(30),
        || async { count("EVENTS_HISTORY").await == 5 },
    )
    .await
    .expect("history");
    devstack::wait::until_async(
        "the backlog holds the two unstored",
        Duration::from_secs(30),
        || async { count("EVENTS").await == 2 },
    )
    .await
    .expect("backlog");
    // The old 10-minute duplicate window is narrowed to the definition's on the stream itself.
    let window = defs
        .streams
        .iter()
        .find(|stream| stream.name == "EVENTS")
        .expect("EVENTS")
        .duplicate_window;
    assert!(window < Duration::from_secs(600), "{window:?}");
    let mut events = js.get_stream("EVENTS").await.expect("stream");
    let info = events.info().await.expect("info");
    assert_eq!(info.config.duplicate_window, window);
}
