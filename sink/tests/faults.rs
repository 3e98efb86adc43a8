//! The sink killed with SIGKILL, again and again, in the middle of a 100 000-event load sent
//! through ingest: ClickHouse ends up with every accepted event exactly once.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{KEY, Pipeline};
use devstack::ports::free_port;
use devstack::process::{Options, Process};
use devstack::test::TempDir;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

const BATCHES: usize = 1_000;
const BATCH_SIZE: usize = 100;

fn start_sink(pipeline: &Pipeline, dir: &TempDir, port: u16) -> Process {
    let log = dir.path().join("sink.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_sink"));
    command
        .env("SINK_PORT", port.to_string())
        .env("NATS_URL", pipeline.nats.url())
        .env(
            "CLICKHOUSE_PORT",
            pipeline.db.server().http_port().to_string(),
        )
        .env("CLICKHOUSE_DB", &pipeline.db.name)
        .env("SINK_BATCH_SIZE", "2000")
        .env("SINK_BATCH_WAIT_MS", "100")
        .env("RUST_LOG", "warn");
    let mut sink = Process::spawn("sink", command, &log, Options::default()).expect("sink starts");
    sink.wait_ready("sink /readyz", Duration::from_secs(60), &log, || {
        devstack::http::get(port, "/readyz", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    })
    .expect("sink ready");
    sink
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_sink_repeatedly_under_load_loses_nothing_and_counts_nothing_twice() {
    let pipeline = Arc::new(Pipeline::start_with(false).await);
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
    assert_eq!(
        pipeline.query("SELECT count() FROM {db}.events FINAL"),
        total,
        "FINAL counts each event once"
    );
    eprintln!(
        "after {kills} kills: {} rows before merging duplicates, {total} events",
        pipeline.query("SELECT count() FROM {db}.events")
    );
    sink.stop();
}
