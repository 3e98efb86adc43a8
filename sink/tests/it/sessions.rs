//! Sessions given as events arrive: the SDK's `$session_id` kept, 30 minutes of inactivity
//! otherwise, across batches (small ones, and a second delivery after the first is stored),
//! midnight and a month's end, late events, a redelivered event already stored by a sink that
//! died before its ack, and `sink replay` into the same and into an empty database. Every
//! stored event has a session; the sessions table holds what the test computes from the
//! events it sent.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use devstack::stack::{Service, TestStack};
use futures_util::StreamExt as _;
use plumbing::config::ClickHouseConfig;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{KEY, Pipeline};

/// 2026-02-28T22:00:00Z: the day before a midnight that is also a month's end.
const T0: i64 = 1_772_316_000;

/// One event sent: a label, the person, minutes after [`T0`], the event, its page (none for a
/// server's event), the SDK's session and the delivery it goes in (0: stored before the sink
/// started, then delivered again).
type Sent = (
    &'static str,
    &'static str,
    i64,
    &'static str,
    &'static str,
    Option<&'static str>,
    u8,
);

const EVENTS: &[Sent] = &[
    ("e", "redelivered", 0, "$pageview", "/r1", None, 0),
    ("a1", "anon-a", 0, "$pageview", "/home", None, 1),
    (
        "s1",
        "sdk",
        0,
        "$pageview",
        "/home",
        Some("sdk-session-1"),
        1,
    ),
    ("a4", "anon-a", 70, "$pageview", "/home", None, 1),
    ("n3", "night", 140, "$pageview", "/pricing", None, 1),
    ("b1", "bounce", 30, "$pageview", "/landing", None, 1),
    (
        "s2",
        "sdk",
        40,
        "$pageview",
        "/docs",
        Some("sdk-session-1"),
        1,
    ),
    ("a2", "anon-a", 10, "$pageview", "/pricing", None, 1),
    ("f", "redelivered", 10, "$pageview", "/r2", None, 1),
    ("n1", "night", 110, "$pageview", "/blog", None, 1),
    ("l1", "late", 60, "$pageview", "/a", None, 1),
    ("s3", "sdk", 45, "purchase", "", None, 1),
    ("a3", "anon-a", 25, "signup", "", None, 1),
    ("n2", "night", 125, "$pageview", "/blog/launch", None, 1),
    (
        "s4",
        "sdk",
        90,
        "$pageview",
        "/home",
        Some("sdk-session-2"),
        1,
    ),
    ("l2", "late", 70, "$pageview", "/b", None, 1),
    ("a5", "anon-a", 80, "$pageview", "/docs", None, 2),
    ("l0", "late", 40, "$pageview", "/start", None, 2),
    ("lx", "late", -60, "$pageview", "/old", None, 2),
    ("n4", "night", 200, "$pageview", "/home", None, 2),
];

/// The sessions the events make, by label: `s3`, a server's event 5 minutes after the SDK's
/// pageview, joins its session; `n1`..`n3` cross midnight into March; `l0` came late, 20
/// minutes before the session it joins; `f` joins the session `e` was stored with.
const SESSIONS: &[&[&str]] = &[
    &["a1", "a2", "a3"],
    &["a4", "a5"],
    &["n1", "n2", "n3"],
    &["n4"],
    &["s1", "s2", "s3"],
    &["s4"],
    &["b1"],
    &["l0", "l1", "l2"],
    &["lx"],
    &["e", "f"],
];

/// The session `e` was stored with by the sink that died before acking it.
const STORED_SESSION: &str = "stored-by-a-sink-that-died";

/// One session as the sessions table holds it, without its id: start, end, 1 for one event
/// (2 for more), person, entry page, exit page.
type Summary = (i64, i64, u8, String, String, String);

/// What the test computes for `labels` from the events it sent.
fn summary(ids: &HashMap<&str, (Uuid, &Sent)>, labels: &[&str]) -> Summary {
    let mut events: Vec<&Sent> = labels.iter().map(|label| ids[label].1).collect();
    events.sort_by_key(|event| event.2);
    let at = |event: &Sent| T0 + event.2 * 60;
    let pages: Vec<&str> = events
        .iter()
        .filter(|event| event.3 == "$pageview")
        .map(|event| event.4)
        .collect();
    (
        at(events[0]),
        at(events[events.len() - 1]),
        if events.len() == 1 { 1 } else { 2 },
        events[0].1.to_owned(),
        pages.first().copied().unwrap_or_default().to_owned(),
        pages.last().copied().unwrap_or_default().to_owned(),
    )
}

/// The PostHog event of `sent`, with its id.
fn posthog(id: Uuid, sent: &Sent) -> Value {
    let (_, person, minutes, event, path, sdk, _) = *sent;
    let mut properties = json!({});
    if !path.is_empty() {
        properties["$current_url"] = json!(format!("https://shop.example{path}"));
    }
    if let Some(session) = sdk {
        properties["$session_id"] = json!(session);
    }
    json!({
        "uuid": id, "event": event, "distinct_id": person, "properties": properties,
        "timestamp": rfc3339(T0 + minutes * 60),
    })
}

fn rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .expect("a time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// `e`, as a sink stored it before dying without an ack: its message on `EVENTS`, its row with
/// [`STORED_SESSION`], and one delivery to the sink's consumer handed back unacked, so that the
/// sink gets it again as a redelivery.
async fn stored_but_not_acked(pipeline: &Pipeline, js: &jetstream::Context, id: Uuid) {
    let at = rfc3339(T0);
    let event = json!({
        "event_id": id, "project_id": pipeline.project, "kind": "page", "event": "$pageview",
        "distinct_id": "redelivered", "timestamp": at, "received_at": at,
        "context": { "url": "https://shop.example/r1", "host": "shop.example", "path": "/r1" },
    });
    let project = pipeline.project.to_string();
    js.publish(
        contract::streams::event_subject(&project, "page"),
        event.to_string().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");
    let (server, db) = pipeline.stack.clickhouse();
    let config = ClickHouseConfig::local(server.http_port(), db);
    sink::schema::apply(&plumbing::clickhouse::server_client(&config), db)
        .await
        .expect("schema");
    pipeline.query(&format!(
        "INSERT INTO {{db}}.events (project_id, date, timestamp, event, event_id, kind, \
         distinct_id, session_id, url, host, path, stream_sequence) VALUES ('{project}', \
         toDate(toDateTime({T0})), toDateTime({T0}), '$pageview', '{id}', 'page', 'redelivered', \
         '{STORED_SESSION}', 'https://shop.example/r1', 'shop.example', '/r1', 1)"
    ));
    let consumer: jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream(
            contract::streams::SINK_CONSUMER,
            contract::streams::EVENTS_STREAM,
        )
        .await
        .expect("the sink's consumer");
    let mut delivered = consumer
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .expect("fetch");
    let message = delivered
        .next()
        .await
        .expect("a message")
        .expect("delivered");
    message
        .ack_with(AckKind::Nak(None))
        .await
        .expect("handed back");
}

/// Sends the events of `delivery` through ingest and waits until `total` events are stored and
/// the sink acked every message: its inserts returned, so the view's rows are in too (a reader
/// can see an insert's events a moment before its sessions).
async fn send(
    pipeline: &Pipeline,
    js: &jetstream::Context,
    ids: &[(Uuid, &Sent)],
    delivery: u8,
    total: usize,
) {
    let batch: Vec<Value> = ids
        .iter()
        .filter(|(_, sent)| sent.6 == delivery)
        .map(|(id, sent)| posthog(*id, sent))
        .collect();
    let response = pipeline
        .http
        .post(pipeline.ingest().url("/batch/"))
        .body(json!({ "api_key": KEY, "batch": batch }).to_string())
        .send()
        .await
        .expect("ingest answers");
    assert!(response.status().is_success(), "{}", response.status());
    pipeline.wait_for_rows(total as u64).await;
    devstack::wait::until_async(
        "the sink acked everything",
        Duration::from_secs(30),
        || async {
            let mut consumer: jetstream::consumer::PullConsumer = js
                .get_consumer_from_stream(
                    contract::streams::SINK_CONSUMER,
                    contract::streams::EVENTS_STREAM,
                )
                .await
                .expect("the sink's consumer");
            let info = consumer.info().await.expect("consumer info");
            info.num_pending == 0 && info.num_ack_pending == 0
        },
    )
    .await
    .expect("acked");
}

/// Per session id, the labels of its events, read from `db`.
fn stored_sessions(
    pipeline: &Pipeline,
    db: &str,
    labels: &HashMap<Uuid, &'static str>,
) -> HashMap<String, BTreeSet<&'static str>> {
    let rows = pipeline.query(&format!(
        "SELECT toString(event_id), session_id FROM {db}.events FINAL \
         WHERE project_id = '{}' FORMAT TSV",
        pipeline.project
    ));
    let mut sessions: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for line in rows.lines() {
        let (id, session) = line.split_once('\t').expect("two columns");
        let label = labels[&Uuid::parse_str(id).expect("an id")];
        assert!(!session.is_empty(), "{label} has no session");
        sessions
            .entry(session.to_owned())
            .or_default()
            .insert(label);
    }
    sessions
}

/// Per session id, its summary in the sessions table of `db`.
fn table_sessions(pipeline: &Pipeline, db: &str) -> HashMap<String, Summary> {
    let rows = pipeline.query(&format!(
        "SELECT session_id, toUInt32(minMerge(started)), toUInt32(maxMerge(ended)), \
         uniqUpToMerge(1)(one_event), argMinMerge(distinct_id), argMinIfMerge(entry_page), \
         argMaxIfMerge(exit_page) FROM {db}.sessions WHERE project_id = '{}' \
         GROUP BY session_id FORMAT TSV",
        pipeline.project
    ));
    rows.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let number = |i: usize| f[i].parse::<i64>().expect("a number");
            let summary = (
                number(1),
                number(2),
                u8::try_from(number(3)).expect("1 or 2"),
                f[4].to_owned(),
                f[5].to_owned(),
                f[6].to_owned(),
            );
            (f[0].to_owned(), summary)
        })
        .collect()
}

/// The sessions as sets of labels, and their summaries by those sets.
fn expected(ids: &HashMap<&str, (Uuid, &Sent)>) -> HashMap<BTreeSet<&'static str>, Summary> {
    SESSIONS
        .iter()
        .map(|labels| (labels.iter().copied().collect(), summary(ids, labels)))
        .collect()
}

/// The stored sessions of `db`, each as its labels and its summary in the table.
fn actual(
    pipeline: &Pipeline,
    db: &str,
    labels: &HashMap<Uuid, &'static str>,
) -> HashMap<BTreeSet<&'static str>, Summary> {
    let grouped = stored_sessions(pipeline, db, labels);
    let table = table_sessions(pipeline, db);
    assert_eq!(
        table.len(),
        grouped.len(),
        "a table row per session: {table:?}"
    );
    grouped
        .into_iter()
        .map(|(session, labels)| {
            let summary = table.get(&session).cloned();
            (
                labels,
                summary.unwrap_or_else(|| panic!("{session} not in the table")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_keep_sdk_ids_and_split_at_30_minutes_across_batches_redelivery_and_replay() {
    let mut pipeline = Pipeline::start_on(
        TestStack::builder()
            .configure_sink(|config| {
                config.batch = sink::BatchSettings {
                    max_messages: 4,
                    max_wait_ms: 50,
                    ..Default::default()
                }
            })
            .later(Service::Sink),
    )
    .await;
    let js = jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    );
    let sent: Vec<(Uuid, &Sent)> = EVENTS.iter().map(|sent| (Uuid::new_v4(), sent)).collect();
    let ids: HashMap<&str, (Uuid, &Sent)> = sent.iter().map(|(id, s)| (s.0, (*id, *s))).collect();
    let labels: HashMap<Uuid, &'static str> = sent.iter().map(|(id, s)| (*id, s.0)).collect();

    stored_but_not_acked(&pipeline, &js, ids["e"].0).await;
    pipeline
        .stack
        .start_service(Service::Sink)
        .expect("the sink starts");
    let first = sent.iter().filter(|(_, s)| s.6 <= 1).count();
    send(&pipeline, &js, &sent, 1, first).await;
    send(&pipeline, &js, &sent, 2, sent.len()).await;

    let db = pipeline.stack.clickhouse().1.to_owned();
    let stored = stored_sessions(&pipeline, &db, &labels);
    assert_eq!(
        stored.get(STORED_SESSION).map(|labels| labels.len()),
        Some(2),
        "the redelivered event kept its session and the next one joined it: {stored:?}"
    );
    for sdk in ["sdk-session-1", "sdk-session-2"] {
        assert!(stored.contains_key(sdk), "the SDK's session ids are kept");
    }
    assert_eq!(
        pipeline.query(&format!(
            "SELECT count() FROM {{db}}.events WHERE event_id = '{}'",
            ids["e"].0
        )),
        "1",
        "the redelivered event is stored once"
    );
    assert_eq!(actual(&pipeline, &db, &labels), expected(&ids));

    // A replay finds every event stored; a replay into an empty database gives the same
    // sessions (the redelivered one under an id of its own).
    let (server, _) = pipeline.stack.clickhouse();
    let replay = |database: &str| {
        let config = ClickHouseConfig::local(server.http_port(), database);
        (
            plumbing::clickhouse::server_client(&config),
            plumbing::clickhouse::client(&config),
        )
    };
    let (_, client) = replay(&db);
    let again = sink::replay::replay(&js, 1, &client, None, None, &mut std::io::sink())
        .await
        .expect("replay");
    assert_eq!(
        (again.inserted, again.already_stored),
        (0, sent.len() as u64)
    );
    let rebuilt = format!("{db}_rebuilt");
    let (server_client, client) = replay(&rebuilt);
    sink::schema::apply(&server_client, &rebuilt)
        .await
        .expect("schema");
    devstack::wait::until_async(
        "the history holds every event",
        Duration::from_secs(30),
        || async {
            let mut history = js.get_stream("EVENTS_HISTORY").await.expect("history");
            history.info().await.expect("info").state.messages == sent.len() as u64
        },
    )
    .await
    .expect("history");
    let rebuilt_run = sink::replay::replay(&js, 1, &client, None, None, &mut std::io::sink())
        .await
        .expect("replay into an empty database");
    assert_eq!(rebuilt_run.inserted, sent.len() as u64);
    assert_eq!(actual(&pipeline, &rebuilt, &labels), expected(&ids));
}
