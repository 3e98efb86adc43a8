//! The sink killed with SIGKILL, again and again, in the middle of a 100 000-event load sent
//! through ingest: ClickHouse ends up with every accepted event exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{BATCH_SIZE, KEY, Pipeline, send_until_accepted, sink_process};
use devstack::ports::free_port;
use devstack::process::Process;
use devstack::stack::{ADMIN, PASSWORD, Service, TestStack};
use devstack::test::TempDir;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

const BATCHES: usize = 1_000;

fn start_sink(pipeline: &Pipeline, dir: &TempDir, port: u16) -> Process {
    let (clickhouse, database) = pipeline.stack.clickhouse();
    sink_process(
        &dir.path().join("sink.log"),
        port,
        &[
            ("NATS_URL", pipeline.stack.nats().url()),
            ("CLICKHOUSE_PORT", clickhouse.http_port().to_string()),
            ("CLICKHOUSE_DB", database.to_owned()),
        ],
        Duration::from_secs(60),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_sink_repeatedly_under_load_loses_nothing_and_counts_nothing_twice() {
    // Auth and query count what was stored once the load is over.
    let mut pipeline = Arc::new(
        Pipeline::start_on(
            TestStack::builder()
                .auth()
                .query()
                .later(Service::Auth)
                .later(Service::Query),
        )
        .await,
    );
    let dir = TempDir::new("sink-kill").expect("dir");
    let port = free_port().expect("port");
    let mut sink = start_sink(&pipeline, &dir, port);

    // The load: 1000 PostHog batches of 100 events, four senders, every one must get its 200.
    let sent = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> =
        (0..4)
            .map(|sender| {
                let pipeline = Arc::clone(&pipeline);
                let sent = Arc::clone(&sent);
                tokio::spawn(async move {
                    for batch in (sender..BATCHES).step_by(4) {
                        let events: Vec<_> = (0..BATCH_SIZE)
                        .map(|i| json!({
                            "uuid": Uuid::now_v7().to_string(),
                            "event": "load",
                            "distinct_id": format!("user-{}", (batch * BATCH_SIZE + i) % 5000),
                            "properties": { "batch": batch, "i": i }
                        }))
                        .collect();
                        let body = json!({ "api_key": KEY, "batch": events })
                            .to_string()
                            .into_bytes();
                        let (status, answer) = pipeline.send("/batch/", body).await;
                        assert_eq!(status, StatusCode::OK, "batch {batch}: {answer}");
                        sent.fetch_add(BATCH_SIZE, Ordering::SeqCst);
                    }
                })
            })
            .collect();

    // Kill the sink three times while the load runs, each time once it has made progress.
    let stored = || {
        pipeline
            .query("SELECT count() FROM {db}.events")
            .parse::<usize>()
            .unwrap_or(0)
    };
    let mut kills = 0;
    for threshold in [5_000, 30_000, 60_000] {
        devstack::wait::until_async(
            &format!("{threshold} rows stored"),
            Duration::from_secs(120),
            || async { stored() >= threshold },
        )
        .await
        .expect("the sink makes progress");
        sink.kill();
        kills += 1;
        eprintln!(
            "killed the sink at {} stored, {} sent",
            stored(),
            sent.load(Ordering::SeqCst)
        );
        sink = start_sink(&pipeline, &dir, port);
    }
    for sender in senders {
        sender.await.expect("sender finished");
    }
    assert_eq!(sent.load(Ordering::SeqCst), BATCHES * BATCH_SIZE);

    let total = (BATCHES * BATCH_SIZE).to_string();
    devstack::wait::until_async("every event stored", Duration::from_secs(180), || async {
        pipeline.query("SELECT uniqExact(event_id) FROM {db}.events") == total
    })
    .await
    .unwrap_or_else(|err| {
        panic!(
            "{err}: {} distinct stored",
            pipeline.query("SELECT uniqExact(event_id) FROM {db}.events")
        )
    });
    // Not merged away: never written twice, even by a sink killed between insert and ack.
    assert_eq!(
        pipeline.query("SELECT count() FROM {db}.events"),
        total,
        "every event stored exactly once"
    );
    assert_eq!(
        query_layer_count(Arc::get_mut(&mut pipeline).expect("the senders are done")).await,
        BATCHES * BATCH_SIZE,
        "the query API counts each event once"
    );
    let skipped = devstack::test::metric_at(port, "sink_already_stored_total");
    eprintln!(
        "after {kills} kills: {total} rows, {total} events; last sink: {skipped:?} already stored"
    );
    sink.stop();
}

/// The events of the pipeline's project today, as the query API's overview counts them, asked
/// by an admin of a real auth (both started now).
async fn query_layer_count(pipeline: &mut Pipeline) -> usize {
    for service in [Service::Auth, Service::Query] {
        pipeline.stack.start_service(service).expect("starts");
    }
    let token = devstack::test::access_token(
        pipeline.stack.auth().addr.port(),
        ADMIN,
        PASSWORD,
        Duration::from_secs(30),
    )
    .expect("admin");
    let today = time::OffsetDateTime::now_utc().date();
    let path = format!(
        "/api/query/overview?project_id={}&from={}&to={}",
        pipeline.project,
        today.previous_day().expect("date"),
        today.next_day().expect("date"),
    );
    let body: serde_json::Value = pipeline
        .http
        .get(pipeline.stack.query().url(&path))
        .bearer_auth(token)
        .send()
        .await
        .expect("overview")
        .json()
        .await
        .expect("json");
    body["figures"]["events"]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no event count in {body}")) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_nats_under_load_loses_no_event_that_got_a_2xx() {
    let mut pipeline = Pipeline::start().await;
    let batches = BATCHES;
    let accepted = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..2)
        .map(|sender| {
            let (http, url) = (pipeline.http.clone(), pipeline.ingest().url("/batch/"));
            let range = sender * batches / 2..(sender + 1) * batches / 2;
            tokio::spawn(send_until_accepted(
                http,
                url,
                range,
                Arc::clone(&accepted),
                &[StatusCode::SERVICE_UNAVAILABLE],
            ))
        })
        .collect();
    devstack::wait::until_async("load under way", Duration::from_secs(60), || async {
        accepted.load(Ordering::SeqCst) >= 10_000
    })
    .await
    .expect("progress");
    pipeline.stack.nats_mut().server.process_mut().kill();
    let accepted_at_kill = accepted.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    pipeline
        .stack
        .nats_mut()
        .server
        .restart()
        .expect("nats restarts");

    let mut refusals = 0;
    for sender in senders {
        refusals += sender.await.expect("sender");
    }
    let total = (batches * BATCH_SIZE).to_string();
    devstack::wait::until_async(
        "every accepted event stored",
        Duration::from_secs(120),
        || async { pipeline.query("SELECT count() FROM {db}.events") == total },
    )
    .await
    .unwrap_or_else(|err| {
        panic!(
            "{err}: {} stored",
            pipeline.query("SELECT count() FROM {db}.events")
        )
    });
    assert_eq!(
        pipeline.query("SELECT uniqExact(event_id) FROM {db}.events"),
        total
    );
    // Under load: senders were still sending when NATS died. (Whether they saw 503s depends on
    // whether the outage outlasted ingest's wait for the PubAck, so it is reported, not required.)
    assert!(
        accepted_at_kill < batches * BATCH_SIZE,
        "the outage happened under load"
    );
    eprintln!("{refusals} requests refused while NATS was down, retried and stored once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_stream_answers_503_and_every_accepted_event_is_kept() {
    let mut pipeline = Pipeline::start_on(
        TestStack::builder()
            .configure_sink(|config| config.batch = sink::BatchSettings::default())
            .later(Service::Sink),
    )
    .await;
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    );
    // A small stream refusing new messages when full, as production sizes it.
    let mut config = js
        .get_stream("EVENTS")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .config
        .clone();
    config.max_bytes = 256 * 1024;
    config.discard = async_nats::jetstream::stream::DiscardPolicy::New;
    js.update_stream(config).await.expect("limits the stream");

    let mut accepted = 0;
    let mut refused = None;
    for batch in 0..200 {
        let events: Vec<_> = (0..BATCH_SIZE)
            .map(|i| json!({ "uuid": Uuid::now_v7().to_string(), "event": "fill", "distinct_id": format!("u{i}"), "properties": { "batch": batch } }))
            .collect();
        let response = pipeline
            .http
            .post(pipeline.ingest().url("/batch/"))
            .body(json!({ "api_key": KEY, "batch": events }).to_string())
            .send()
            .await
            .expect("answers");
        match response.status() {
            StatusCode::OK => accepted += BATCH_SIZE,
            status => {
                let retry_after = response.headers().get("retry-after").cloned();
                refused = Some((status, retry_after));
                break;
            }
        }
    }
    let (status, retry_after) = refused.expect("the stream filled up");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after.is_some(), "503 carries Retry-After");
    assert!(accepted > 0);

    // Every event that got its 200 is on the stream, and reaches ClickHouse once a sink runs.
    let mut stream = js.get_stream("EVENTS").await.expect("stream");
    let on_stream = stream.info().await.expect("info").state.messages as usize;
    assert!(
        on_stream >= accepted,
        "{on_stream} on the stream, {accepted} accepted"
    );
    pipeline
        .stack
        .start_service(Service::Sink)
        .expect("the sink starts");
    devstack::wait::until_async(
        "the accepted events stored",
        Duration::from_secs(60),
        || async {
            pipeline
                .try_query("SELECT count() FROM {db}.events FINAL")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n >= accepted)
        },
    )
    .await
    .expect("stored");
}
