//! `sink dlq list` and `sink dlq redrive`: dead letters are listed with their reason, and once
//! redriven an event is stored by the sink exactly once, while what is not an event stays.

use std::time::Duration;

use async_nats::HeaderMap;
use devstack::test::{ClickHouseDb, TestNats, spawn_service, wait_for_readiness};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_with_their_reason_and_a_redriven_event_is_stored_once() {
    let nats = TestNats::start().expect("nats");
    let ch = ClickHouseDb::unique();
    let sink = spawn_service("sink", {
        let config = sink::Config {
            http: HttpConfig::ephemeral(),
            nats: NatsConfig { url: nats.url() },
            clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
            batch: sink::consumer::BatchSettings {
                max_wait_ms: 50,
                ..Default::default()
            },
        };
        move |l, s| sink::run(config, l, s)
    })
    .expect("sink");
    wait_for_readiness(&sink, 200).expect("ready");
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("nats"));

    // Two dead letters of one project: an event ClickHouse once refused, and bytes that are no
    // event at all.
    let project = Uuid::now_v7();
    let event_id = Uuid::now_v7();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let event = serde_json::json!({
        "event_id": event_id, "project_id": project, "kind": "track", "event": "redriven",
        "distinct_id": "u1", "timestamp": now, "received_at": now,
    });
    let dlq_subject = contract::streams::dlq_subject(&project.to_string());
    let original = contract::streams::event_subject(&project.to_string(), "track");
    for (payload, reason) in [
        (event.to_string(), "Code: 27. Cannot parse input"),
        ("not an event".to_owned(), "not an event: expected value"),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(sink::consumer::ERROR_HEADER, reason);
        headers.insert(sink::dlq::ORIGINAL_SUBJECT_HEADER, original.as_str());
        js.publish_with_headers(dlq_subject.clone(), headers, payload.into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }

    // The operator sees them in the sink's metrics too.
    let metric = |line: &'static str| {
        let port = sink.addr.port();
        move || {
            devstack::http::get(port, "/metrics", Duration::from_secs(5))
                .is_ok_and(|answer| answer.body.lines().any(|l| l == line))
        }
    };
    devstack::wait::until(
        "the DLQ gauge",
        Duration::from_secs(20),
        metric("sink_dlq_messages 2"),
    )
    .expect("sink_dlq_messages 2");

    let letters = sink::dlq::list(&js, None).await.expect("list");
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].event_id, Some(event_id.to_string()));
    assert_eq!(letters[0].error, "Code: 27. Cannot parse input");
    assert_eq!(letters[0].original_subject, original);
    assert_eq!(letters[1].event_id, None);
    assert!(
        sink::dlq::list(&js, Some(Uuid::now_v7()))
            .await
            .expect("list")
            .is_empty(),
        "another project has none"
    );

    let mut progress = Vec::new();
    let done = sink::dlq::redrive(&js, Some(project), &mut progress)
        .await
        .expect("redrive");
    assert_eq!((done.redriven, done.kept), (1, 1));
    assert!(String::from_utf8_lossy(&progress).contains("redriven 1/2"));
    let count = format!("SELECT count() FROM events WHERE event_id = '{event_id}'");
    devstack::wait::until("the redriven event stored", Duration::from_secs(30), || {
        ch.server()
            .query_in(&ch.name, &count)
            .is_ok_and(|rows| rows.trim() == "1")
    })
    .expect("stored");

    devstack::wait::until("the gauges", Duration::from_secs(20), || {
        metric("sink_dlq_messages 1")()
            && metric("sink_batch_rows_count 1")()
            && metric("sink_consumer_pending 0")()
    })
    .expect("DLQ 1, one batch written, nothing pending");

    // Again: the event is gone from the DLQ, so nothing is sent twice; the rest stays.
    let again = sink::dlq::redrive(&js, None, &mut Vec::new())
        .await
        .expect("redrive");
    assert_eq!((again.redriven, again.kept), (0, 1));
    assert_eq!(sink::dlq::list(&js, None).await.expect("list").len(), 1);
    let stats = js
        .get_stream(contract::streams::EVENTS_STREAM)
        .await
        .expect("EVENTS")
        .info()
        .await
        .expect("info")
        .state
        .messages;
    assert_eq!(stats, 1, "one copy on EVENTS");
    assert_eq!(
        ch.server()
            .query_in(&ch.name, &count)
            .expect("count")
            .trim(),
        "1"
    );
}
