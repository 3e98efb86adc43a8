//! Pipeline benchmarks, run in a release build of xtask against release builds of ingest and
//! the sink: ingest events/s through HTTP against raw JetStream publishing of the same payloads,
//! and sink rows/s from a filled stream against a direct `clickhouse` crate insert of the same
//! rows.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use contract::event::{Event, EventContext, EventKind};
use devstack::clickhouse::{ClickHouse, ClickHousePorts};
use devstack::nats::{NatsPasswords, NatsServer};
use devstack::ports::free_port;
use devstack::process::Process;
use devstack::test::TempDir;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bench::start_release;

const KEY: &str = "ea_benchmark_key";
/// Keep-alive clients sending batches: a few servers flushing their SDKs' queues.
pub const CLIENTS: usize = 8;
/// Keep-alive clients sending one event per request: many browsers at once. Eight closed-loop
/// clients cannot keep the stack busy with requests this small (each waits a round trip of
/// about a millisecond between requests), so they would measure the clients, not the stack.
pub const SINGLE_CLIENTS: usize = 64;
const ADMIN: &str = "bench-admin@example.com";
const PASSWORD: &str = "benchmark password 123";
/// The sink's batch wait in every scenario here, its default; freshness depends on it.
pub const SINK_BATCH_WAIT_MS: u64 = 200;

/// One measured load: events per second and request latencies.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub events_per_sec: f64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The same load measured in several rounds, slowest first by events/s.
#[derive(Debug, Clone)]
pub struct Rounds(pub Vec<Load>);

impl Rounds {
    pub fn min(&self) -> Load {
        self.0[0]
    }
    /// The round with the median events/s (the lower middle one of an even count).
    pub fn median(&self) -> Load {
        self.0[(self.0.len() - 1) / 2]
    }
    pub fn max(&self) -> Load {
        self.0[self.0.len() - 1]
    }
}

/// A paced, open-loop load: requests sent on a fixed schedule whatever the answers take;
/// latency counts from the scheduled send, so a stall is not hidden by sending less.
#[derive(Debug, Clone, Copy)]
pub struct Paced {
    pub target_events_per_sec: f64,
    pub load: Load,
}

/// Time from the 2xx at ingest until the query API counts the event.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    pub events_per_sec: f64,
    pub events: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Mean time between the starts of two polls of the query API.
    pub poll_interval_ms: f64,
}

/// Everything this module measures.
#[derive(Debug)]
pub struct PipelineReport {
    pub rounds: usize,
    /// 100-event batches through edge, then straight to ingest, then the raw limit.
    pub batch_edge: Rounds,
    pub batch: Rounds,
    pub raw_batch: Rounds,
    /// Single events from `SINGLE_CLIENTS` clients through edge, then straight to ingest,
    /// then the raw limit with as many publishing tasks.
    pub single_edge: Rounds,
    pub single: Rounds,
    pub raw_single: Rounds,
    /// Single events from `CLIENTS` clients through edge.
    pub single_edge_few: Rounds,
    /// Single events through edge at half the median single-event rate through edge.
    pub half_rate: Vec<Paced>,
    /// Events/s through edge by events per request.
    pub by_batch_size: Vec<(usize, Load)>,
    pub freshness: Freshness,
    pub sink_rows_per_sec: f64,
    pub raw_insert_rows_per_sec: f64,
    /// Raw JetStream consumption of the same messages: pull, explicit ack, nothing else.
    pub raw_consume_rows_per_sec: f64,
    /// CPU µs per row while the sink drained the stream: sink, nats-server, ClickHouse.
    pub sink_cpu_us: [f64; 3],
    /// CPU µs per event while 100-event batches went through edge: edge, ingest, nats-server,
    /// the load generator.
    pub ingest_cpu_us: [f64; 4],
    /// CPU µs per request while single events went through edge, the same four.
    pub single_cpu_us: [f64; 4],
    /// CPU µs per row of ClickHouse during the direct insert.
    pub raw_insert_cpu_us: f64,
    /// Peak resident memory (VmHWM) of each service process over the whole pipeline run, MiB.
    pub peak_rss_mib: Vec<(&'static str, f64)>,
    /// Hostile bodies straight to ingest, after everything else (they reset its peak).
    pub hostile: devstack::hostile::HostileReport,
    pub nats_version: String,
    pub clickhouse_version: String,
    pub rows: usize,
}

pub async fn run(quick: bool, dir: &TempDir) -> anyhow::Result<PipelineReport> {
    // Three rounds in either run, so the median is the middle one, not the slower of two.
    let (batches, singles, rounds, paced_secs) = if quick {
        (1_000, 10_000, 3, 4)
    } else {
        (5_000, 40_000, 3, 10)
    };
    let nats = NatsServer::start(
        &dir.path().join("nats-pipeline"),
        free_port()?,
        None,
        NatsPasswords::generate(),
    )?;
    let client = plumbing::streams::connect(nats.url()).await?;
    let js = jetstream::new(client);
    plumbing::streams::provision(&js, &plumbing::streams::Definitions::bundled()?).await?;
    let project = Uuid::now_v7();
    let at = time::OffsetDateTime::now_utc();
    for issued in [
        contract::auth::AuthEvent::ProjectCreated {
            project_id: project,
            name: "Bench".to_owned(),
            timezone: "UTC".to_owned(),
            by: None,
            at,
        },
        contract::auth::AuthEvent::WriteKeyIssued {
            project_id: project,
            key_id: Uuid::now_v7(),
            key: KEY.to_owned(),
            at,
        },
    ] {
        js.publish(
            contract::auth::project_subject(project),
            serde_json::to_vec(&issued)?.into(),
        )
        .await?
        .await?;
    }
    // Auth (for edge and query) first: it creates its key-value buckets at start, before the
    // raw stream below reserves its share of JetStream storage.
    let mut auth = crate::bench::start_auth(
        &dir.path().join("pipeline-auth"),
        &nats.url(),
        &[("ADMIN_EMAIL", ADMIN), ("ADMIN_PASSWORD", PASSWORD)],
    )?;
    let token = devstack::test::access_token(auth.port, ADMIN, PASSWORD, Duration::from_secs(60))
        .with_context(|| {
        devstack::process::log_tail(&dir.path().join("pipeline-auth/auth.log"), 20)
    })?;
    // The raw limit publishes to a stream of its own, configured like EVENTS but keeping what
    // it takes (EVENTS keeps its messages for the sink's consumer; with no consumer an interest
    // stream would store nothing).
    let mut raw_config = js.get_stream("EVENTS").await?.info().await?.config.clone();
    raw_config.name = "BENCH_RAW".to_owned();
    raw_config.subjects = vec!["bench.>".to_owned()];
    raw_config.retention = jetstream::stream::RetentionPolicy::Limits;
    // JetStream reserves every stream's byte limit in its store (20 GB here, with EVENTS and
    // its history holding 14): the raw streams take what the rounds need.
    raw_config.max_bytes = 3 << 30;
    js.create_stream(raw_config).await?;
    // And a history sourced from it, as EVENTS_HISTORY is from EVENTS: nats-server copies
    // every event it takes, for the raw limit too.
    let mut raw_history = js
        .get_stream("EVENTS_HISTORY")
        .await?
        .info()
        .await?
        .config
        .clone();
    raw_history.name = "BENCH_RAW_HISTORY".to_owned();
    raw_history.max_bytes = 1 << 30;
    if let Some(source) = raw_history.sources.as_mut().and_then(|s| s.first_mut()) {
        source.name = "BENCH_RAW".to_owned();
    }
    js.create_stream(raw_history).await?;

    let port = free_port()?;
    let env = [
        ("INGEST_PORT", port.to_string()),
        ("NATS_URL", nats.url()),
        // Where ingest verifies the dashboard's tokens (`/api/events`, the hostile bodies).
        ("AUTH_URL", format!("http://127.0.0.1:{}", auth.port)),
        // The bench measures capacity, not the intake quotas.
        ("PROJECT_EVENTS_PER_SECOND", "0".to_owned()),
        ("PROJECT_BYTES_PER_SECOND", "0".to_owned()),
    ];
    let mut ingest = start_release(
        dir.path(),
        "ingest",
        "ingest",
        &env,
        Some((port, "/readyz")),
    )?;
    // The public door in front of ingest, and later of query (started for freshness).
    let query_port = free_port()?;
    let edge_port = free_port()?;
    let mut edge =
        crate::bench::start_edge(dir, "edge-pipeline", edge_port, auth.port, port, query_port)?;
    let direct = format!("http://127.0.0.1:{port}/batch/");
    let url = format!("http://127.0.0.1:{edge_port}/batch/");

    let bodies = |requests: usize, events: usize| -> Vec<String> {
        (0..requests)
            .map(|_| posthog_body(events, "$pageview"))
            .collect()
    };
    eprintln!("ingest: warm-up");
    http_load(&url, bodies(batches / 10, 100), 100, CLIENTS).await?;
    http_load(&direct, bodies(batches / 10, 100), 100, CLIENTS).await?;
    raw_load(&js, batches / 10, 100, CLIENTS).await?;
    let (mut batch_edge, mut batch, mut raw_batch) = (Vec::new(), Vec::new(), Vec::new());
    let (mut single_edge, mut single, mut raw_single) = (Vec::new(), Vec::new(), Vec::new());
    let mut single_edge_few = Vec::new();
    let cpu = |process: &Process| process.cpu_seconds().unwrap_or(0.0);
    // CPU seconds used so far by edge, ingest, nats-server and the load generator.
    let sample = || {
        [
            cpu(&edge),
            cpu(&ingest),
            cpu(nats.process()),
            own_cpu_seconds(),
        ]
    };
    // What the single events through edge cost each of them.
    let mut single_cpu_seconds = [0.0; 4];
    for round in 1..=rounds {
        eprintln!(
            "ingest round {round}/{rounds}: {batches} requests of 100 events, {CLIENTS} clients, through edge, direct, raw"
        );
        batch_edge.push(http_load(&url, bodies(batches, 100), 100, CLIENTS).await?);
        batch.push(http_load(&direct, bodies(batches, 100), 100, CLIENTS).await?);
        raw_batch.push(raw_load(&js, batches, 100, CLIENTS).await?);
        eprintln!(
            "ingest round {round}/{rounds}: {singles} single-event requests, through edge, direct, raw"
        );
        // The bodies are written before the clock starts: the load generator's CPU is what
        // sending them costs.
        let requests = bodies(singles, 1);
        let before = sample();
        single_edge.push(http_load(&url, requests, 1, SINGLE_CLIENTS).await?);
        for ((spent, now), then) in single_cpu_seconds.iter_mut().zip(sample()).zip(before) {
            *spent += now - then;
        }
        single.push(http_load(&direct, bodies(singles, 1), 1, SINGLE_CLIENTS).await?);
        raw_single.push(raw_load(&js, singles, 1, SINGLE_CLIENTS).await?);
        single_edge_few.push(http_load(&url, bodies(singles, 1), 1, CLIENTS).await?);
    }
    let rounds_of = |mut loads: Vec<Load>| {
        loads.sort_by(|a, b| a.events_per_sec.total_cmp(&b.events_per_sec));
        Rounds(loads)
    };
    let (batch_edge, batch, raw_batch) = (
        rounds_of(batch_edge),
        rounds_of(batch),
        rounds_of(raw_batch),
    );
    let (single_edge, single, raw_single) = (
        rounds_of(single_edge),
        rounds_of(single),
        rounds_of(raw_single),
    );
    let single_edge_few = rounds_of(single_edge_few);
    let single_cpu_us = single_cpu_seconds.map(|seconds| seconds * 1e6 / (rounds * singles) as f64);
    eprintln!(
        "ingest: CPU µs per single-event request through edge: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}",
        single_cpu_us[0], single_cpu_us[1], single_cpu_us[2], single_cpu_us[3]
    );
    let half = single_edge.median().requests_per_sec / 2.0;
    let mut half_rate = Vec::new();
    for round in 1..=rounds {
        eprintln!(
            "ingest round {round}/{rounds}: single events through edge paced at {half:.0}/s for {paced_secs} s"
        );
        let load = paced_load(&url, half, Duration::from_secs(paced_secs), 1, |_| {
            posthog_body(1, "$pageview")
        })
        .await?;
        half_rate.push(Paced {
            target_events_per_sec: half,
            load: load.load,
        });
    }

    let events_per_point = if quick { 50_000 } else { 150_000 };
    let sizes: &[usize] = if quick {
        &[1, 10, 50, 100, 250, 500]
    } else {
        &[1, 10, 50, 100, 250, 500, 1_000]
    };
    // Each size into an emptied stream, so none is measured against millions of messages the
    // rounds above left (the sink is not draining them yet).
    let mut by_batch_size = Vec::new();
    for &size in sizes {
        empty_the_log(&js).await?;
        let requests = (events_per_point / size).min(singles);
        eprintln!("ingest: {requests} requests of {size} events through edge");
        match http_load(&url, bodies(requests, size), size, CLIENTS).await {
            Ok(load) => by_batch_size.push((size, load)),
            // A size that fails is left out of the chart and named here, not the end of the run.
            Err(err) => eprintln!("ingest: {size} events per request failed: {err:#}"),
        }
    }

    // What the sink drains: one more load of 100-event batches through edge, into an emptied
    // stream, with the CPU each process spent on it.
    // The raw stream gives its storage back, for the services started below.
    js.delete_stream("BENCH_RAW").await?;
    js.delete_stream("BENCH_RAW_HISTORY").await?;
    empty_the_log(&js).await?;
    eprintln!("pipeline: {batches} requests of 100 events through edge, for the sink");
    let requests = bodies(batches, 100);
    let before = sample();
    http_load(&url, requests, 100, CLIENTS).await?;
    let after = sample();
    let rows = js.get_stream("EVENTS").await?.info().await?.state.messages as usize;
    let per_row = |seconds: f64| seconds * 1e6 / rows as f64;
    let ingest_cpu_us: [f64; 4] = std::array::from_fn(|i| per_row(after[i] - before[i]));
    eprintln!(
        "ingest: CPU µs per event: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}",
        ingest_cpu_us[0], ingest_cpu_us[1], ingest_cpu_us[2], ingest_cpu_us[3]
    );

    // The sink drains what ingest stored, into a fresh ClickHouse.
    let clickhouse = ClickHouse::start(
        &dir.path().join("clickhouse"),
        ClickHousePorts {
            http: free_port()?,
            tcp: free_port()?,
            interserver: free_port()?,
        },
    )?;
    // The bare consumer reads first: EVENTS keeps each message until every consumer acked it
    // (interest retention), so the sink still finds them all, and its own acks then remove them
    // as in production.
    eprintln!("sink: the same messages consumed and acked, nothing else");
    let raw_consume_rows_per_sec = raw_consume(&js, rows).await?;

    eprintln!("sink: {rows} rows from the stream");
    let sink_port = free_port()?;
    let sink_log = dir.path().join("sink.log");
    let sink_env = [
        ("SINK_PORT", sink_port.to_string()),
        ("NATS_URL", nats.url()),
        ("CLICKHOUSE_PORT", clickhouse.http_port().to_string()),
        ("CLICKHOUSE_DB", "bench".to_owned()),
        ("SINK_BATCH_SIZE", batch_size().to_string()),
        ("SINK_BATCH_WAIT_MS", SINK_BATCH_WAIT_MS.to_string()),
    ];
    let mut sink = start_release(dir.path(), "sink", "sink", &sink_env, None)?;
    let before = [cpu(nats.process()), cpu(clickhouse.process())];
    let sink_rows_per_sec = sink_rate(&mut sink, sink_port, rows, &sink_log)?;
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
    let mut sink_peak_rss = peak_rss_mib(&sink);
    sink.stop();

    eprintln!("sink: the same rows inserted directly");
    let before = cpu(clickhouse.process());
    let raw_insert_rows_per_sec = raw_insert(&clickhouse, rows).await?;
    let raw_insert_cpu_us = per_row(cpu(clickhouse.process()) - before);
    eprintln!("direct insert: CPU µs per row: clickhouse {raw_insert_cpu_us:.1}");

    // Freshness: the whole pipeline at once, the query API polled through edge.
    let mut sink = start_release(dir.path(), "sink", "sink", &sink_env, None)?;
    let env = [
        ("QUERY_PORT", query_port.to_string()),
        ("NATS_URL", nats.url()),
        ("CLICKHOUSE_PORT", clickhouse.http_port().to_string()),
        ("CLICKHOUSE_DB", "bench".to_owned()),
        ("AUTH_URL", format!("http://127.0.0.1:{}", auth.port)),
    ];
    let mut query = start_release(
        dir.path(),
        "query-pipeline",
        "query",
        &env,
        Some((query_port, "/readyz")),
    )?;
    let fresh_rate = if quick { 2_000.0 } else { 5_000.0 };
    let freshness = freshness(
        &url,
        &format!("http://127.0.0.1:{edge_port}"),
        &token,
        project,
        fresh_rate,
        Duration::from_secs(if quick { 8 } else { 15 }),
    )
    .await?;
    eprintln!(
        "freshness at {fresh_rate:.0} events/s: p50 {:.0} ms, p99 {:.0} ms",
        freshness.p50_ms, freshness.p99_ms
    );
    sink_peak_rss = sink_peak_rss.max(peak_rss_mib(&sink));
    let peak_rss = vec![
        ("edge", peak_rss_mib(&edge)),
        ("ingest", peak_rss_mib(&ingest)),
        ("nats-server", peak_rss_mib(nats.process())),
        ("sink", sink_peak_rss),
        ("ClickHouse", peak_rss_mib(clickhouse.process())),
        ("query", peak_rss_mib(&query)),
        ("auth", peak_rss_mib(&auth.process)),
    ];
    let nats_version = devstack::install::locate()
        .nats_server
        .and_then(|bin| Command::new(bin).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let clickhouse_version = clickhouse
        .query("SELECT version()")
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    eprintln!("ingest: hostile bodies, its peak memory read around each");
    let token = devstack::test::access_token(auth.port, ADMIN, PASSWORD, Duration::from_secs(60))?;
    let hostile = devstack::hostile::measure(
        port,
        ingest.pid(),
        &token,
        contract::event::MAX_DECODED_REQUEST_BYTES,
    )?;
    eprintln!(
        "ingest: hostile bodies: worst peak growth {:.1} MiB for one, {:.1} MiB for eight at once",
        hostile.worst_single_mib(),
        hostile.eight_at_once_mib()
    );
    for process in [
        &mut sink,
        &mut query,
        &mut edge,
        &mut ingest,
        &mut auth.process,
    ] {
        process.stop();
    }
    Ok(PipelineReport {
        rounds,
        batch_edge,
        batch,
        raw_batch,
        single_edge,
        single_edge_few,
        single,
        raw_single,
        half_rate,
        by_batch_size,
        freshness,
        sink_rows_per_sec,
        raw_insert_rows_per_sec,
        raw_consume_rows_per_sec,
        sink_cpu_us,
        ingest_cpu_us,
        single_cpu_us,
        raw_insert_cpu_us,
        peak_rss_mib: peak_rss,
        hostile,
        nats_version,
        clickhouse_version,
        rows,
    })
}

/// Peak resident memory of a running process (`VmHWM`), MiB; 0 once it has exited.
fn peak_rss_mib(process: &Process) -> f64 {
    devstack::process::proc_kib(&format!("/proc/{}/status", process.pid()), "VmHWM:")
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Freshness at `rate` events/s for `duration`: 10-event requests on a fixed schedule, each
/// 100 ms of sending under an event name of its own (a marker), while one client polls the
/// query API through edge (`/api/query/top?dimension=event`) back to back. An event counts
/// as fresh at the end of the first poll that counted every event of its marker; its
/// freshness is that instant minus the 2xx of its request. So a figure is an upper bound, by
/// at most one poll.
async fn freshness(
    url: &str,
    edge: &str,
    token: &str,
    project: Uuid,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Freshness> {
    const PER_REQUEST: usize = 10;
    let requests_per_marker = ((rate / PER_REQUEST as f64) / 10.0).max(1.0) as usize;
    let marker = |request: usize| format!("fresh_{}", request / requests_per_marker);
    let today = time::OffsetDateTime::now_utc().date();
    let poll_url = format!(
        "{edge}/api/query/top?project_id={project}&from={}&to={}&dimension=event&limit=1000",
        today - time::Duration::days(1),
        today + time::Duration::days(1),
    );
    let http = reqwest::Client::new();
    // Set once sending has ended: every marker with the events it must count.
    let expected = Arc::new(std::sync::Mutex::new(None::<HashMap<String, u64>>));
    let poller = {
        let (http, token, expected) = (http.clone(), token.to_owned(), Arc::clone(&expected));
        tokio::spawn(async move {
            let mut polls: Vec<(Instant, Instant, HashMap<String, u64>)> = Vec::new();
            let mut deadline = None;
            loop {
                let started = Instant::now();
                let response = http.get(&poll_url).bearer_auth(&token).send().await?;
                anyhow::ensure!(
                    response.status() == 200,
                    "top answered {}",
                    response.status()
                );
                let top: contract::query::TopResponse = response.json().await?;
                let counts: HashMap<String, u64> =
                    top.values.into_iter().map(|v| (v.value, v.count)).collect();
                let all_counted = expected
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .as_ref()
                    .map(|expected: &HashMap<String, u64>| {
                        expected
                            .iter()
                            .all(|(name, n)| counts.get(name).is_some_and(|c| c >= n))
                    });
                polls.push((started, Instant::now(), counts));
                match all_counted {
                    Some(true) => return anyhow::Ok(polls),
                    Some(false) => {
                        let deadline =
                            *deadline.get_or_insert(Instant::now() + Duration::from_secs(60));
                        anyhow::ensure!(
                            Instant::now() < deadline,
                            "events not counted by the query API 60 s after they were sent"
                        );
                    }
                    None => {}
                }
            }
        })
    };
    let sent = paced_load(
        url,
        rate / PER_REQUEST as f64,
        duration,
        PER_REQUEST,
        |request| posthog_body(PER_REQUEST, &marker(request)),
    )
    .await?;
    let mut all = HashMap::<String, u64>::new();
    for (request, _) in &sent.acked {
        *all.entry(marker(*request)).or_default() += PER_REQUEST as u64;
    }
    let expected_markers = all.clone();
    *expected.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Some(all);
    let polls = poller.await??;
    let expected = expected_markers;
    // When each marker was first counted in full.
    let seen: HashMap<&String, Instant> = expected
        .iter()
        .filter_map(|(name, n)| {
            polls
                .iter()
                .find(|(_, _, counts)| counts.get(name).is_some_and(|c| c >= n))
                .map(|(_, ended, _)| (name, *ended))
        })
        .collect();
    anyhow::ensure!(
        seen.len() == expected.len(),
        "{} of {} markers never counted in full",
        expected.len() - seen.len(),
        expected.len()
    );
    let mut ages: Vec<Duration> = sent
        .acked
        .iter()
        .map(|(request, acked)| seen[&marker(*request)].saturating_duration_since(*acked))
        .collect();
    ages.sort();
    let poll_interval_ms = match (polls.first(), polls.last()) {
        (Some(first), Some(last)) if polls.len() > 1 => {
            last.0.duration_since(first.0).as_secs_f64() * 1000.0 / (polls.len() - 1) as f64
        }
        _ => 0.0,
    };
    Ok(Freshness {
        events_per_sec: sent.load.events_per_sec,
        events: sent.acked.len() * PER_REQUEST,
        p50_ms: crate::bench::percentile_ms(&ages, 0.50),
        p99_ms: crate::bench::percentile_ms(&ages, 0.99),
        max_ms: crate::bench::percentile_ms(&ages, 1.0),
        poll_interval_ms,
    })
}

/// What a paced load sent: the load, and when each request (by index) was answered.
struct PacedRun {
    load: Load,
    acked: Vec<(usize, Instant)>,
}

/// Sends `body(i)` to `url` at `requests_per_sec` for `duration`, each request on its own
/// task, on a keep-alive connection that is free at the time or else a new one; each answer
/// must be 200.
async fn paced_load(
    url: &str,
    requests_per_sec: f64,
    duration: Duration,
    events_per_request: usize,
    body: impl Fn(usize) -> String,
) -> anyhow::Result<PacedRun> {
    let interval = Duration::from_secs_f64(1.0 / requests_per_sec.max(1.0));
    let count = (duration.as_secs_f64() * requests_per_sec) as usize;
    // Connections with no request on them; as many as the single-event clients to start with,
    // so none is opened in the middle of the run unless the stack falls behind.
    let free = Arc::new(std::sync::Mutex::new(
        Poster::connect_many(url, SINGLE_CLIENTS).await?,
    ));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for request in 0..count {
        let due = started + interval.mul_f64(request as f64);
        tokio::time::sleep_until(due.into()).await;
        let request_body = Bytes::from(body(request));
        let (free, url) = (Arc::clone(&free), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let taken = free.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut poster = match taken {
                Some(poster) => poster,
                None => Poster::connect(&url).await?,
            };
            let status = poster.post(request_body).await?;
            anyhow::ensure!(status == 200, "ingest answered {status}");
            let acked = Instant::now();
            free.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(poster);
            anyhow::Ok((request, acked, acked.duration_since(due)))
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    let mut acked = Vec::with_capacity(count);
    for task in tasks {
        let (request, at, latency) = task.await??;
        latencies.push(latency);
        acked.push((request, at));
    }
    Ok(PacedRun {
        load: load(started.elapsed(), latencies, events_per_request),
        acked,
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
    // Polled every 25 ms: the drain takes seconds, so each end is off by under 1 % of it, and
    // rendering `/metrics` costs the sink about 1 % of its CPU (every 5 ms, it cost 6 %).
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
        std::thread::sleep(Duration::from_millis(25));
    }
    let (started, already) = first.context("the sink stored nothing")?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(already < rows, "one batch held every row; use more rows");
    Ok((rows - already) as f64 / elapsed)
}

/// Empties `EVENTS` and its history, so a round is not measured against what the rounds before
/// left (and the history does not fill the disk with the bench's millions of events).
async fn empty_the_log(js: &jetstream::Context) -> anyhow::Result<()> {
    js.get_stream("EVENTS").await?.purge().await?;
    js.get_stream("EVENTS_HISTORY").await?.purge().await?;
    Ok(())
}

/// The other limit of the sink: a durable consumer configured like the sink's, read with the
/// same continuous pull and batch size, each message acked and otherwise ignored; deleted
/// afterwards, so that EVENTS does not keep messages for it.
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
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    stream.delete_consumer("bench-raw-consume").await?;
    Ok(rate)
}

/// A PostHog batch body of `events` fresh events named `name`.
fn posthog_body(events: usize, name: &str) -> String {
    let batch: Vec<Value> = (0..events)
        .map(|i| {
            json!({
                "uuid": Uuid::now_v7().to_string(),
                "event": name,
                "distinct_id": format!("user-{}", i % 97),
                "properties": { "$current_url": "https://shop.example/products/42", "$lib": "web", "plan": "pro" }
            })
        })
        .collect();
    json!({ "api_key": KEY, "batch": batch }).to_string()
}

/// One keep-alive HTTP/1.1 connection that posts JSON bodies to one URL, on hyper's connection
/// API: the load generator spends little CPU per request (reqwest parses the URL and checks a
/// connection out of its pool for each), which on this machine is CPU the stack does not get.
struct Poster {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    path: String,
    host: String,
}

impl Poster {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = url.parse()?;
        let host = uri.authority().context("a URL with a host")?.to_string();
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, path, host })
    }

    /// `count` connections to `url`.
    async fn connect_many(url: &str, count: usize) -> anyhow::Result<Vec<Self>> {
        let mut posters = Vec::with_capacity(count);
        for _ in 0..count {
            posters.push(Self::connect(url).await?);
        }
        Ok(posters)
    }

    /// Posts `body`; the answer's status, its body read to the end.
    async fn post(&mut self, body: Bytes) -> anyhow::Result<hyper::StatusCode> {
        self.sender.ready().await?;
        let request = hyper::Request::post(&self.path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let answer = self.sender.send_request(request).await?;
        let status = answer.status();
        answer.into_body().collect().await?;
        Ok(status)
    }
}

/// The CPU seconds this process (the load generator) has used so far.
fn own_cpu_seconds() -> f64 {
    devstack::process::cpu_seconds_of(std::process::id()).unwrap_or(0.0)
}

/// `clients` keep-alive clients send `bodies`; each answer must be 200.
async fn http_load(
    url: &str,
    bodies: Vec<String>,
    events_per_body: usize,
    clients: usize,
) -> anyhow::Result<Load> {
    let count = bodies.len();
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let posters = Poster::connect_many(url, clients).await?;
    let started = Instant::now();
    let workers: Vec<_> = posters
        .into_iter()
        .map(|mut poster| {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(body) = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop()
                    else {
                        return anyhow::Ok(latencies);
                    };
                    let sent = Instant::now();
                    let status = poster.post(Bytes::from(body)).await?;
                    anyhow::ensure!(status == 200, "ingest answered {status}");
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
/// `clients` tasks, each publishing a batch and then awaiting all its acks.
async fn raw_load(
    js: &jetstream::Context,
    requests: usize,
    events_per_request: usize,
    clients: usize,
) -> anyhow::Result<Load> {
    let remaining = Arc::new(AtomicUsize::new(requests));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
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
    sink::schema::apply(&server, "bench_raw")
        .await
        .context("raw schema")?;
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
