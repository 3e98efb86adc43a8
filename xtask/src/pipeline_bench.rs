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
    /// Raw JetStream consumption of the same messages: pull, explicit ack, nothing else.
    pub raw_consume_rows_per_sec: f64,
    /// CPU µs per row while the sink drained the stream: sink, nats-server, ClickHouse.
    pub sink_cpu_us: [f64; 3],
    /// CPU µs per row of ClickHouse during the direct insert.
    pub raw_insert_cpu_us: f64,
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
        // The bench measures capacity, not the per-key policy.
        .env("WRITE_KEY_REQUESTS_PER_SECOND", "0")
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
        .env("SINK_BATCH_SIZE", batch_size().to_string())
        .env("RUST_LOG", "warn");
    let mut sink = Process::spawn("sink", command, &sink_log, Options::default())?;
    let cpu = |process: &Process| process.cpu_seconds().unwrap_or(0.0);
    let before = [cpu(nats.process()), cpu(clickhouse.process())];
    let sink_rows_per_sec = sink_rate(&mut sink, sink_port, rows, &sink_log)?;
    let per_row = |seconds: f64| seconds * 1e6 / rows as f64;
    let sink_cpu_us = [
        per_row(cpu(&sink)),
        per_row(cpu(nats.process()) - before[0]),
        per_row(cpu(clickhouse.process()) - before[1]),
    ];
    eprintln!(
        "sink: CPU µs per row: sink {:.1}, nats-server {:.1}, clickhouse {:.1}",
        sink_cpu_us[0], sink_cpu_us[1], sink_cpu_us[2]
    );
    anyhow::ensure!(
        clickhouse.query("SELECT count() FROM bench.events")?.trim() == rows.to_string(),
        "the sink reported every row inserted, but ClickHouse does not hold them all"
    );
    sink.stop();

    eprintln!("sink: the same rows inserted directly");
    let before = cpu(clickhouse.process());
    let raw_insert_rows_per_sec = raw_insert(&clickhouse, rows).await?;
    let raw_insert_cpu_us = per_row(cpu(clickhouse.process()) - before);
    eprintln!("direct insert: CPU µs per row: clickhouse {raw_insert_cpu_us:.1}");
    eprintln!("sink: the same messages consumed and acked, nothing else");
    let raw_consume_rows_per_sec = raw_consume(&js, rows).await?;
    Ok(PipelineReport {
        batch,
        raw_batch,
        single,
        raw_single,
        sink_rows_per_sec,
        raw_insert_rows_per_sec,
        raw_consume_rows_per_sec,
        sink_cpu_us,
        raw_insert_cpu_us,
        rows,
    })
}

/// Rows per second the sink inserts, from its own counter: from the first batch it stored
/// (process start and connecting excluded) until it stored all `rows`.
fn sink_rate(
    sink: &mut Process,
    port: u16,
    rows: usize,
    log: &std::path::Path,
) -> anyhow::Result<f64> {
    let inserted = || -> usize {
        devstack::http::get(port, "/metrics", Duration::from_secs(2))
            .ok()
            .and_then(|response| {
                response.body.lines().find_map(|line| {
                    line.strip_prefix("sink_rows_inserted_total ")
                        .and_then(|n| n.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    };
    // Polled every few milliseconds: the whole drain takes about a second.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = None;
    loop {
        let n = inserted();
        if n > 0 && first.is_none() {
            first = Some((Instant::now(), n));
        }
        if n >= rows {
            break;
        }
        anyhow::ensure!(
            sink.exit_status().is_none() && Instant::now() < deadline,
            "the sink stopped or stalled at {n} of {rows} rows; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (started, already) = first.context("the sink stored nothing")?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(already < rows, "one batch held every row; use more rows");
    Ok((rows - already) as f64 / elapsed)
}

/// The other limit of the sink: a durable consumer configured like the sink's, read with the
/// same continuous pull and batch size, each message acked and otherwise ignored.
async fn raw_consume(js: &jetstream::Context, rows: usize) -> anyhow::Result<f64> {
    let stream = js.get_stream("EVENTS").await?;
    let sink: jetstream::consumer::PullConsumer = stream
        .get_consumer("sink-clickhouse")
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let like = &sink.cached_info().config;
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("bench-raw-consume".to_owned()),
            ack_policy: like.ack_policy,
            ack_wait: like.ack_wait,
            max_deliver: like.max_deliver,
            max_ack_pending: like.max_ack_pending,
            filter_subject: like.filter_subject.clone(),
            ..Default::default()
        })
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch_size())
        .messages()
        .await?;
    let started = Instant::now();
    for _ in 0..rows {
        let message = futures_util::StreamExt::next(&mut messages)
            .await
            .context("the consumer ended")?
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        message
            .ack()
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
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
    for chunk in all.chunks(batch_size()) {
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

/// Rows per insert, for the sink and the direct insert alike: the sink's default, or
/// `BENCH_BATCH` to compare sizes.
fn batch_size() -> usize {
    std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(sink::consumer::BatchSettings::default().max_messages)
}
