//! Dead letters and data errors: rows ClickHouse refuses for their contents are dead-lettered
//! with the reason while the rest of their batch and later events are stored, a batch spanning
//! many months is stored whole, and `sink dlq list` and `sink dlq redrive` show the dead
//! letters and send them back (an event is then stored exactly once, what is not an event
//! stays).

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
use devstack::stack::TestStack;
use plumbing::config::ClickHouseConfig;
use sink::BatchSettings;

use crate::common::metric;
use uuid::Uuid;

/// The servers of a stack whose sink batches as `batch` says; the test prepares the stream
/// and the table before the sink starts with `stack.start_services()`.
fn sink_stack(batch: BatchSettings) -> TestStack {
    TestStack::builder()
        .configure_sink(move |config| config.batch = batch.clone())
        .start_servers()
        .expect("servers start")
}

/// The value of the sink's metric `name` (its line `name value` in `/metrics`).
/// Publishes a track event `name` of `project` that happened `at` (RFC 3339), with
/// `properties`, the way ingest does.
async fn publish(
    js: &jetstream::Context,
    project: Uuid,
    name: &str,
    at: &str,
    properties: serde_json::Value,
) {
    let event = serde_json::json!({
        "event_id": Uuid::now_v7(), "project_id": project, "kind": "track", "event": name,
        "distinct_id": "u1", "timestamp": at, "received_at": now(), "properties": properties,
    });
    js.publish(
        contract::streams::event_subject(&project.to_string(), "track"),
        event.to_string().into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("stored on EVENTS");
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_clickhouse_refuses_are_dead_lettered_while_their_batch_mates_and_later_events_are_stored()
 {
    let mut stack = sink_stack(BatchSettings::default());
    // An operator's column computed from a property: ClickHouse refuses the insert of an event
    // whose `amount` is not a number (code 6, CANNOT_PARSE_TEXT), about that row's contents.
    let (server, db) = stack.clickhouse();
    let config = ClickHouseConfig::local(server.http_port(), db);
    sink::schema::apply(&plumbing::clickhouse::server_client(&config), db)
        .await
        .expect("schema");
    stack
        .clickhouse_sql(
            "ALTER TABLE events ADD COLUMN amount UInt32 DEFAULT \
             toUInt32(if(has(prop_keys, 'amount'), prop_values[indexOf(prop_keys, 'amount')], '0'))",
        )
        .expect("column added");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(stack.nats(), project, crate::common::KEY).await;

    // On the stream before the sink starts, so that it reads them as one batch.
    let at = now();
    for (name, amount) in [
        ("paid", Some("12")),
        ("refused one", Some("twelve")),
        ("paid", Some("3")),
        ("viewed", None),
        ("refused two", Some("many")),
        ("paid", Some("7")),
    ] {
        let properties = match amount {
            Some(amount) => serde_json::json!({ "amount": amount }),
            None => serde_json::json!({}),
        };
        publish(&js, project, name, &at, properties).await;
    }
    stack.start_services().expect("the sink starts");
    let sink = stack.sink();

    let stored = |sql: &'static str| {
        let stack = &stack;
        move || stack.clickhouse_sql(sql).map(|rows| rows.trim().to_owned())
    };
    let batch_mates = stored("SELECT count(), sum(amount) FROM events FINAL");
    devstack::wait::until("the four good rows", Duration::from_secs(30), || {
        batch_mates().is_ok_and(|rows| rows == "4\t22")
    })
    .unwrap_or_else(|err| panic!("{err}: {:?}", batch_mates()));
    assert!(
        metric(sink, "sink_insert_failures_total").unwrap_or_default() >= 1.0,
        "ClickHouse refused the batch first"
    );

    // The refused rows are still being retried (a delivery a second, dead-lettered on their
    // tenth): an event sent now is stored all the same.
    let sent = Instant::now();
    publish(&js, project, "later", &now(), serde_json::json!({})).await;
    let later = stored("SELECT count() FROM events WHERE event = 'later'");
    devstack::wait::until("the later event", Duration::from_secs(15), || {
        later().is_ok_and(|rows| rows == "1")
    })
    .expect("the later event is stored");
    println!(
        "a later event stored {:?} after it was sent",
        sent.elapsed()
    );

    devstack::wait::until_async("two dead letters", Duration::from_secs(60), || async {
        sink::dlq::list(&js, Some(project))
            .await
            .is_ok_and(|letters| letters.len() == 2)
    })
    .await
    .expect("the refused rows in the DLQ");
    let letters = sink::dlq::list(&js, Some(project)).await.expect("list");
    for (letter, value) in letters.iter().zip(["twelve", "many"]) {
        assert!(
            letter.error.contains("Code: 6")
                && letter
                    .error
                    .contains(&format!("Cannot parse string '{value}' as UInt32")),
            "{letter:?}"
        );
        let event: serde_json::Value = serde_json::from_slice(&letter.payload).expect("json");
        assert_eq!(event["properties"]["amount"], value);
    }
    assert_eq!(metric(sink, "sink_dead_lettered_total"), Some(2.0));
    assert_eq!(
        stored("SELECT count() FROM events FINAL")().expect("count"),
        "5",
        "nothing refused was stored, nothing stored twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_spanning_150_months_is_stored_whole_with_one_insert_per_month() {
    // All 300 in one batch: it closes when full, long before its wait.
    let mut stack = sink_stack(BatchSettings {
        max_messages: 300,
        max_wait_ms: 60_000,
        ..BatchSettings::default()
    });
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(stack.nats(), project, crate::common::KEY).await;
    // An import: the first and the last second of each month from June 2013 to November
    // 2025, newest first. Current ClickHouse refuses an insert of more than 100 months.
    for index in (0..150).rev() {
        let year = 2013 + (5 + index) / 12;
        let number = u8::try_from((5 + index) % 12 + 1).expect("1 to 12");
        let last = time::Month::try_from(number).expect("a month").length(year);
        for at in [
            format!("{year}-{number:02}-01T00:00:00Z"),
            format!("{year}-{number:02}-{last}T23:59:59Z"),
        ] {
            publish(&js, project, "imported", &at, serde_json::json!({})).await;
        }
    }
    stack.start_services().expect("the sink starts");
    let sink = stack.sink();

    let rows = || {
        stack
            .clickhouse_sql("SELECT count() FROM events FINAL")
            .map(|rows| rows.trim().to_owned())
    };
    devstack::wait::until("300 rows", Duration::from_secs(60), || {
        rows().is_ok_and(|rows| rows == "300")
    })
    .unwrap_or_else(|err| panic!("{err}: {:?}", rows()));
    assert_eq!(
        stack
            .clickhouse_sql(
                "SELECT uniqExact(toYYYYMM(date)), min(timestamp), max(timestamp), \
                 countIf(toYYYYMM(date) != toYYYYMM(timestamp)) FROM events"
            )
            .expect("query")
            .trim(),
        "150\t2013-06-01 00:00:00\t2025-11-30 23:59:59\t0"
    );
    let partitions = format!(
        "SELECT uniqExact(partition) FROM system.parts WHERE database = '{}' AND table = 'events'",
        stack.clickhouse().1
    );
    assert_eq!(
        stack.clickhouse_sql(&partitions).expect("parts").trim(),
        "150"
    );
    // One insert per month, each of the month's two rows, and none refused.
    assert_eq!(metric(sink, "sink_batch_rows_count"), Some(150.0));
    assert_eq!(metric(sink, "sink_batch_rows_sum"), Some(300.0));
    assert_eq!(metric(sink, "sink_insert_failures_total"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_with_their_reason_and_a_redriven_event_is_stored_once() {
    let mut stack = sink_stack(BatchSettings {
        max_wait_ms: 50,
        ..Default::default()
    });
    stack.start_services().expect("the sink starts");
    let sink = stack.sink();
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(stack.nats().url())
            .await
            .expect("nats"),
    );

    // Two dead letters of one project: an event ClickHouse once refused, and bytes that are no
    // event at all.
    let project = Uuid::now_v7();
    let event_id = Uuid::now_v7();
    let now = now();
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
        headers.insert(contract::streams::DLQ_ERROR_HEADER, reason);
        headers.insert(
            contract::streams::DLQ_ORIGINAL_SUBJECT_HEADER,
            original.as_str(),
        );
        js.publish_with_headers(dlq_subject.clone(), headers, payload.into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }

    // The operator sees them in the sink's metrics too.
    devstack::wait::until("the DLQ gauge", Duration::from_secs(20), || {
        metric(sink, "sink_dlq_messages") == Some(2.0)
    })
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
        stack
            .clickhouse_sql(&count)
            .is_ok_and(|rows| rows.trim() == "1")
    })
    .expect("stored");

    devstack::wait::until("the gauges", Duration::from_secs(20), || {
        metric(sink, "sink_dlq_messages") == Some(1.0)
            && metric(sink, "sink_batch_rows_count") == Some(1.0)
            && metric(sink, "sink_consumer_pending") == Some(0.0)
    })
    .expect("DLQ 1, one batch written, nothing pending");

    // Again: the event is gone from the DLQ, so nothing is sent twice; the rest stays.
    let again = sink::dlq::redrive(&js, None, &mut Vec::new())
        .await
        .expect("redrive");
    assert_eq!((again.redriven, again.kept), (0, 1));
    assert_eq!(sink::dlq::list(&js, None).await.expect("list").len(), 1);
    // Counted by sequence, not by messages kept: a stream that keeps a message only until its
    // consumers acked it has none left by now.
    let published = js
        .get_stream(contract::streams::EVENTS_STREAM)
        .await
        .expect("EVENTS")
        .info()
        .await
        .expect("info")
        .state
        .last_sequence;
    assert_eq!(published, 1, "one copy sent to EVENTS");
    assert_eq!(stack.clickhouse_sql(&count).expect("count").trim(), "1");
}
