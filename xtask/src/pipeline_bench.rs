//! Pipeline benchmarks, run in a release build of xtask against release builds of ingest and
//! the sink: ingest events/s through HTTP against raw JetStream publishing of the same payloads,
//! and sink rows/s from a filled stream against a direct `clickhouse` crate insert of the same
//! rows.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use contract::event::{Event, EventContext, EventKind};
use devstack::clickhouse::{ClickHouse, ClickHousePorts};
use devstack::nats::NatsServer;
use devstack::ports::free_port;
use devstack::process::{Options, Process};
use devstack::test::TempDir;
use serde_json::{Value, json};
use uuid::Uuid;

const KEY: &str = "ea_benchmark_key";
const CLIENTS: usize = 8;

/// One measured load: events per second and request latencies.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub events_per_sec: f64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Everything this module measures.
#[derive(Debug)]
pub struct PipelineReport {
    pub batch: Load,
    pub raw_batch: Load,
    pub single: Load,
    pub raw_single: Load,
    pub sink_rows_per_sec: f64,
    pub raw_insert_rows_per_sec: f64,
    pub rows: usize,
}

pub async fn run(quick: bool, dir: &TempDir) -> anyhow::Result<PipelineReport> {
    let root = devstack::workspace_root();
    let (batches, singles) = if quick {
        (1_500, 6_000)
    } else {
        (5_000, 20_000)
    };
    let nats = NatsServer::start(&dir.path().join("nats-pipeline"), free_port()?, None)?;
    let client = async_nats::connect(nats.url()).await?;
    let js = jetstream::new(client);
    plumbing::streams::provision(&js, &plumbing::streams::Definitions::bundled()?).await?;
    let project = Uuid::now_v7();
    let issued = contract::auth::AuthEvent::WriteKeyIssued {
        project_id: project,
        key_id: Uuid::now_v7(),
        key: KEY.to_owned(),
        at: time::OffsetDateTime::now_utc(),
    };
    js.publish(
        contract::auth::project_subject(project),
        serde_json::to_vec(&issued)?.into(),
    )
    .await?
    .await?;
    // The raw limit publishes to a stream of its own, configured like EVENTS.
    let mut raw_config = js.get_stream("EVENTS").await?.info().await?.config.clone();
    raw_config.name = "BENCH_RAW".to_owned();
    raw_config.subjects = vec!["bench.>".to_owned()];
    js.create_stream(raw_config).await?;

    let port = free_port()?;
    let log = dir.path().join("ingest.log");
    let mut command = Command::new(root.join("target/release/ingest"));
    command
        .env("INGEST_PORT", port.to_string())
        .env("NATS_URL", nats.url())
        .env("RUST_LOG", "warn");
    let mut ingest = Process::spawn("ingest", command, &log, Options::default())?;
    ingest.wait_ready("ingest /readyz", Duration::from_secs(60), &log, || {
        devstack::http::get(port, "/readyz", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    })?;
    let url = format!("http://127.0.0.1:{port}/batch/");

    eprintln!("ingest: {batches} requests of 100 events, {CLIENTS} clients");
    let bodies = (0..batches).map(|_| posthog_body(100)).collect();
    let batch = http_load(&url, bodies, 100).await?;
    let raw_batch = raw_load(&js, batches, 100).await?;
    eprintln!("ingest: {singles} single-event requests");
    let bodies = (0..singles).map(|_| posthog_body(1)).collect();
    let single = http_load(&url, bodies, 1).await?;
    let raw_single = raw_load(&js, singles, 1).await?;
    ingest.stop();

    // The sink drains what ingest stored, into a fresh ClickHouse.
    let rows = js.get_stream("EVENTS").await?.info().await?.state.messages as usize;
    let clickhouse = ClickHouse::start(
        &dir.path().join("clickhouse"),
        ClickHousePorts {
            http: free_port()?,
            tcp: free_port()?,
            interserver: free_port()?,
        },
    )?;
    eprintln!("sink: {rows} rows from the stream");
    let sink_port = free_port()?;
    let sink_log = dir.path().join("sink.log");
    let mut command = Command::new(root.join("target/release/sink"));
    command
        .env("SINK_PORT", sink_port.to_string())
        .env("NATS_URL", nats.url())
        .env("CLICKHOUSE_PORT", clickhouse.http_port().to_string())
        .env("CLICKHOUSE_DB", "bench")
        .env("RUST_LOG", "warn");
    let started = Instant::now();
    let mut sink = Process::spawn("sink", command, &sink_log, Options::default())?;
    let target = rows.to_string();
    sink.wait_ready(
        "the sink to store every row",
        Duration::from_secs(600),
        &sink_log,
        || {
            clickhouse
                .query("SELECT count() FROM bench.events")
                .is_ok_and(|n| n.trim() == target)
        },
    )?;
    let sink_rows_per_sec = rows as f64 / started.elapsed().as_secs_f64();
    sink.stop();

    eprintln!("sink: the same rows inserted directly");
    let raw_insert_rows_per_sec = raw_insert(&clickhouse, rows).await?;
    Ok(PipelineReport {
        batch,
        raw_batch,
        single,
        raw_single,
        sink_rows_per_sec,
        raw_insert_rows_per_sec,
        rows,
    })
}

/// A PostHog batch body of `events` fresh events.
fn posthog_body(events: usize) -> String {
    let batch: Vec<Value> = (0..events)
        .map(|i| {
            json!({
                "uuid": Uuid::now_v7().to_string(),
                "event": "$pageview",
                "distinct_id": format!("user-{}", i % 97),
                "properties": { "$current_url": "https://shop.example/products/42", "$lib": "web", "plan": "pro" }
            })
        })
        .collect();
    json!({ "api_key": KEY, "batch": batch }).to_string()
}

/// `CLIENTS` keep-alive clients send `bodies`; each answer must be 200.
async fn http_load(url: &str, bodies: Vec<String>, events_per_body: usize) -> anyhow::Result<Load> {
    let http = reqwest::Client::new();
    let count = bodies.len();
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, url, queue) = (http.clone(), url.to_owned(), Arc::clone(&queue));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(body) = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop()
                    else {
                        return anyhow::Ok(latencies);
                    };
                    let sent = Instant::now();
                    let response = http.post(&url).body(body).send().await?;
                    anyhow::ensure!(
                        response.status() == 200,
                        "ingest answered {}",
                        response.status()
                    );
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(load(started.elapsed(), latencies, events_per_body))
}

/// The limit: the same number of normalised events published straight to JetStream by
/// `CLIENTS` tasks, each publishing a batch and then awaiting all its acks.
async fn raw_load(
    js: &jetstream::Context,
    requests: usize,
    events_per_request: usize,
) -> anyhow::Result<Load> {
    let remaining = Arc::new(AtomicUsize::new(requests));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (js, remaining) = (js.clone(), Arc::clone(&remaining));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while remaining
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let sent = Instant::now();
                    let mut acks = Vec::with_capacity(events_per_request);
                    for _ in 0..events_per_request {
                        let event = sample_event();
                        let message = jetstream::message::PublishMessage::build()
                            .payload(serde_json::to_vec(&event)?.into())
                            .message_id(event.event_id.to_string());
                        acks.push(
                            js.send_publish(format!("bench.{}", event.project_id), message)
                                .await?,
                        );
                    }
                    for ack in acks {
                        ack.await?;
                    }
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(load(started.elapsed(), latencies, events_per_request))
}

fn sample_event() -> Event {
    let now = time::OffsetDateTime::now_utc();
    let mut properties = serde_json::Map::new();
    properties.insert("plan".to_owned(), json!("pro"));
    Event {
        event_id: Uuid::now_v7(),
        project_id: Uuid::nil(),
        kind: EventKind::Page,
        event: "$pageview".to_owned(),
        distinct_id: "user-1".to_owned(),
        user_id: None,
        session_id: None,
        timestamp: now,
        received_at: now,
        properties,
        context: EventContext {
            url: "https://shop.example/products/42".to_owned(),
            host: "shop.example".to_owned(),
            path: "/products/42".to_owned(),
            lib: "web".to_owned(),
            ..EventContext::default()
        },
    }
}

/// The limit of the sink: the same number of rows inserted with the `clickhouse` crate, in
/// batches of the sink's size, into a table with the same DDL.
async fn raw_insert(clickhouse: &ClickHouse, rows: usize) -> anyhow::Result<f64> {
    let config = plumbing::config::ClickHouseConfig::local(clickhouse.http_port(), "bench_raw");
    let server = clickhouse::Client::default()
        .with_url(config.url())
        .with_validation(false);
    for statement in sink::schema::statements("bench_raw")? {
        server
            .query(&statement)
            .execute()
            .await
            .context("raw schema")?;
    }
    let client = server.with_database("bench_raw");
    let all: Vec<sink::consumer::EventRow> = (0..rows)
        .map(|i| sink::consumer::EventRow::new(sample_event(), i as u64))
        .collect();
    let started = Instant::now();
    for chunk in all.chunks(5_000) {
        let mut insert = client.insert::<sink::consumer::EventRow>("events").await?;
        for row in chunk {
            insert.write(row).await?;
        }
        insert.end().await?;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

fn load(elapsed: Duration, mut latencies: Vec<Duration>, events_per_request: usize) -> Load {
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len().saturating_sub(1)) as f64 * q).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let requests = latencies.len() as f64;
    Load {
        events_per_sec: requests * events_per_request as f64 / elapsed.as_secs_f64(),
        requests_per_sec: requests / elapsed.as_secs_f64(),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
    }
}
