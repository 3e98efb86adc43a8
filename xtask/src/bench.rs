//! `cargo xtask bench`: measures on a stack of its own (free ports, temporary folders), each
//! figure next to a limit measured in the same run, and writes `target/bench/report.md` and
//! `report.json`. Scenarios: ingest and sink (see `pipeline_bench`), and auth (logins against
//! the argon2id bound, token costs).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use devstack::install::Need;
use devstack::nats::{NatsPasswords, NatsServer};
use devstack::ports::free_port;
use devstack::postgres::{Postgres, PostgresOptions};
use devstack::process::{Options, Process};
use devstack::test::TempDir;
use serde_json::{Value, json};

use crate::pipeline_bench::{Load, Rounds};
use crate::{cargo, run};

/// `cargo xtask bench`: builds the services and xtask itself in release, then measures there,
/// so no figure comes from unoptimised code.
pub fn bench(quick: bool) -> anyhow::Result<()> {
    devstack::install::ensure(&[Need::Nats, Need::Postgres, Need::ClickHouse])?;
    let root = devstack::workspace_root();
    let mut build = Command::new(cargo());
    build.current_dir(&root).args(["build", "--release"]);
    for service in ["auth", "ingest", "sink", "query", "edge"] {
        build.args(["--package", service, "--bin", service]);
    }
    run(&mut build)?;
    let mut measure = Command::new(cargo());
    measure.current_dir(&root).args([
        "run",
        "--quiet",
        "--release",
        "--package",
        "xtask",
        "--",
        "bench-run",
    ]);
    if quick {
        measure.arg("--quick");
    }
    run(&mut measure)
}

/// The measuring itself, in the release build.
pub fn bench_run(quick: bool) -> anyhow::Result<()> {
    let dir = TempDir::new("bench")?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let pipeline = runtime.block_on(crate::pipeline_bench::run(quick, &dir))?;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let queries = runtime.block_on(crate::query_bench::run(quick, &dir))?;
    let (auth, auth_markdown) = auth_scenario(quick, &dir, cores)?;
    let query_rows: Vec<Value> = queries
        .scenarios
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "edge_p50_ms": s.edge_p50_ms,
                "p50_ms": s.p50_ms,
                "edge_ratio": ratio(s.edge_p50_ms, s.direct_p50_ms),
                "direct_p50_ms": s.direct_p50_ms,
                "ratio": ratio(s.p50_ms, s.direct_p50_ms),
                "statements": s.statements,
            })
        })
        .collect();
    let query_markdown: String = queries
        .scenarios
        .iter()
        .map(|s| {
            format!(
                "| {} | {:.1} ms | {:.2} | {:.1} ms | {:.1} ms ({} statements) | {:.2} |\n",
                s.name,
                s.edge_p50_ms,
                ratio(s.edge_p50_ms, s.direct_p50_ms),
                s.p50_ms,
                s.direct_p50_ms,
                s.statements,
                ratio(s.p50_ms, s.direct_p50_ms)
            )
        })
        .collect();

    let p = &pipeline;
    let batch_ratio = ratio(
        p.batch_edge.median().events_per_sec,
        p.raw_batch.median().events_per_sec,
    );
    let single_ratio = ratio(
        p.single_edge.median().events_per_sec,
        p.raw_single.median().events_per_sec,
    );
    let sink_ratio = ratio(p.sink_rows_per_sec, p.raw_insert_rows_per_sec);
    let consume_ratio = ratio(p.sink_rows_per_sec, p.raw_consume_rows_per_sec);
    let mut half_p99: Vec<f64> = p.half_rate.iter().map(|r| r.load.p99_ms).collect();
    half_p99.sort_by(f64::total_cmp);
    let half = p.half_rate[(p.half_rate.len() - 1) / 2];
    let half_p99 = half_p99[(half_p99.len() - 1) / 2];
    let query_p50 = |prefix: &str| {
        queries
            .scenarios
            .iter()
            .filter(|s| s.name.starts_with(prefix))
            .map(|s| s.edge_p50_ms)
            .fold(0.0, f64::max)
    };
    let edge_ratio = queries
        .scenarios
        .iter()
        .map(|s| ratio(s.edge_p50_ms, s.direct_p50_ms))
        .fold(0.0, f64::max);
    let (fast, slow) = (
        query_p50("trends").max(query_p50("top")),
        query_p50("3-step funnel").max(query_p50("8-week retention")),
    );
    let targets: Vec<(&str, String, bool)> = vec![
        (
            "100-event batches through edge ≥ 50 000 events/s",
            format!("{:.0} events/s", p.batch_edge.median().events_per_sec),
            p.batch_edge.median().events_per_sec >= 50_000.0,
        ),
        (
            "100-event batches ≥ 0.7 of raw JetStream publish",
            format!("{batch_ratio:.2}"),
            batch_ratio >= 0.7,
        ),
        (
            "single events through edge ≥ 10 000 req/s",
            format!(
                "{:.0} req/s ({} clients)",
                p.single_edge.median().requests_per_sec,
                crate::pipeline_bench::SINGLE_CLIENTS
            ),
            p.single_edge.median().requests_per_sec >= 10_000.0,
        ),
        (
            "single events at half the max rate: p99 < 20 ms",
            format!(
                "{half_p99:.1} ms at {:.0} req/s",
                half.target_events_per_sec
            ),
            half_p99 < 20.0,
        ),
        (
            "sink ≥ 200 000 rows/s",
            format!("{:.0} rows/s", p.sink_rows_per_sec),
            p.sink_rows_per_sec >= 200_000.0,
        ),
        (
            "sink ≥ 0.7 of direct insert",
            format!("{sink_ratio:.2}"),
            sink_ratio >= 0.7,
        ),
        (
            "freshness p99 < 2 s",
            format!(
                "{:.0} ms at {:.0} events/s",
                p.freshness.p99_ms, p.freshness.events_per_sec
            ),
            p.freshness.p99_ms < 2_000.0,
        ),
        (
            "trends and top values p50 < 300 ms",
            format!("{fast:.0} ms (slower of the two, through edge)"),
            fast < 300.0,
        ),
        (
            "funnel and retention p50 < 1.5 s",
            format!("{slow:.0} ms (slower of the two, through edge)"),
            slow < 1_500.0,
        ),
        (
            "query through edge ≤ 1.2 × the same SQL straight to ClickHouse",
            format!("{edge_ratio:.2} (worst call)"),
            edge_ratio <= 1.2,
        ),
    ];
    let targets_markdown: String = targets
        .iter()
        .map(|(target, measured, holds)| {
            format!(
                "| {target} | {measured} | {} |\n",
                if *holds { "yes" } else { "**no**" }
            )
        })
        .collect();
    let machine = machine_facts(cores, p);
    let report = json!({
        "machine": machine,
        "quick": quick,
        "targets": targets.iter().map(|(target, measured, holds)| json!({
            "target": target, "measured": measured, "holds": holds,
        })).collect::<Vec<_>>(),
        "ingest": {
            "rounds": p.rounds,
            "batch_100_through_edge": rounds_json(&p.batch_edge),
            "batch_100_direct": rounds_json(&p.batch),
            "raw_jetstream_batch_100": rounds_json(&p.raw_batch),
            "batch_ratio": batch_ratio,
            "clients_batches": crate::pipeline_bench::CLIENTS,
            "clients_single": crate::pipeline_bench::SINGLE_CLIENTS,
            "single_through_edge": rounds_json(&p.single_edge),
            "single_through_edge_few_clients": rounds_json(&p.single_edge_few),
            "single_direct": rounds_json(&p.single),
            "raw_jetstream_single": rounds_json(&p.raw_single),
            "single_ratio": single_ratio,
            "single_at_half_rate": p.half_rate.iter().map(|r| json!({
                "target_req_per_sec": r.target_events_per_sec,
                "load": load_json(&r.load),
            })).collect::<Vec<_>>(),
            "single_at_half_rate_median_p99_ms": half_p99,
            "events_per_sec_by_batch_size_through_edge": p.by_batch_size.iter().map(|(size, load)| json!({
                "events_per_request": size, "load": load_json(load),
            })).collect::<Vec<_>>(),
            "cpu_us_per_event_batch_100_through_edge": {
                "edge": p.ingest_cpu_us[0],
                "ingest": p.ingest_cpu_us[1],
                "nats_server": p.ingest_cpu_us[2],
                "load_generator": p.ingest_cpu_us[3],
            },
            "cpu_us_per_request_single_through_edge": {
                "edge": p.single_cpu_us[0],
                "ingest": p.single_cpu_us[1],
                "nats_server": p.single_cpu_us[2],
                "load_generator": p.single_cpu_us[3],
            },
        },
        "sink": {
            "rows": p.rows,
            "rows_per_sec": p.sink_rows_per_sec,
            "raw_insert_rows_per_sec": p.raw_insert_rows_per_sec,
            "ratio": sink_ratio,
            "raw_consume_rows_per_sec": p.raw_consume_rows_per_sec,
            "consume_ratio": consume_ratio,
            "batch_wait_ms": crate::pipeline_bench::SINK_BATCH_WAIT_MS,
            "cpu_us_per_row": {
                "sink": p.sink_cpu_us[0],
                "nats_server": p.sink_cpu_us[1],
                "clickhouse": p.sink_cpu_us[2],
                "clickhouse_direct_insert": p.raw_insert_cpu_us,
            },
        },
        "freshness": {
            "events_per_sec": p.freshness.events_per_sec,
            "events": p.freshness.events,
            "p50_ms": p.freshness.p50_ms,
            "p99_ms": p.freshness.p99_ms,
            "max_ms": p.freshness.max_ms,
            "poll_interval_ms": p.freshness.poll_interval_ms,
            "sink_batch_wait_ms": crate::pipeline_bench::SINK_BATCH_WAIT_MS,
        },
        "peak_rss_mib": p.peak_rss_mib.iter().map(|(name, mib)| (name.to_string(), json!(mib))).collect::<serde_json::Map<_, _>>(),
        "query": { "events": queries.rows, "scenarios": query_rows },
        "auth": auth,
        "hostile": crate::bench_hostile::json(&p.hostile),
    });
    let hostile_markdown =
        crate::bench_hostile::markdown(&p.hostile, contract::event::MAX_DECODED_REQUEST_BYTES);
    let row = |name: &str, load: &Rounds, raw: Option<&Rounds>| {
        let (m, limit) = (load.median(), raw.map(Rounds::median));
        format!(
            "| {name} | {:.0} ({:.0} req/s; rounds {:.0}–{:.0}) | {:.1} / {:.1} ms | {} | {} |\n",
            m.events_per_sec,
            m.requests_per_sec,
            load.min().events_per_sec,
            load.max().events_per_sec,
            m.p50_ms,
            m.p99_ms,
            limit.map_or(String::new(), |l| format!(
                "{:.0} events/s ({:.1} / {:.1} ms)",
                l.events_per_sec, l.p50_ms, l.p99_ms
            )),
            limit.map_or(String::new(), |l| format!(
                "{:.2}",
                ratio(m.events_per_sec, l.events_per_sec)
            )),
        )
    };
    let sweep: String = p
        .by_batch_size
        .iter()
        .map(|(size, load)| {
            format!(
                "| {size} | {:.0} | {:.0} | {:.1} / {:.1} ms | {:.2} |\n",
                load.events_per_sec,
                load.requests_per_sec,
                load.p50_ms,
                load.p99_ms,
                ratio(load.events_per_sec, p.raw_batch.median().events_per_sec)
            )
        })
        .collect();
    let rss: Vec<String> = p
        .peak_rss_mib
        .iter()
        .map(|(name, mib)| format!("{name} {mib:.0}"))
        .collect();
    let half_line = format!(
        "| single events through edge, paced at half the median rate ({:.0} req/s, open loop) | {:.0} | {:.1} / {half_p99:.1} ms (median round) | | |\n",
        half.target_events_per_sec, half.load.events_per_sec, half.load.p50_ms,
    );
    let markdown = format!(
        "# Benchmark report\n\n{} run on {cores} cores ({}), the whole stack on this machine.\n\n\
## Targets (issue 9)\n\n| target | measured | holds? |\n|---|---|---|\n{targets_markdown}\n\
## Ingest (HTTP, PostHog `/batch/`, keep-alive clients: {} for batches, {} for single events; median of {} rounds after a warm-up)\n\n\
| load | events/s | p50 / p99 | limit: raw JetStream publish of the same events, same acks | ratio |\n\
|---|---|---|---|---|\n{}{}{}{}{}{half_line}\n\
CPU µs per event while 100-event batches went through edge: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}. \
Per request while single events went through edge: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}.\n\n\
### Events/s by events per request (through edge, one round each)\n\n\
![ingest events/s by batch size](ingest-vs-batch.svg)\n\n\
| events per request | events/s | req/s | p50 / p99 | ratio to raw publish of 100-event batches |\n|---|---|---|---|---|\n{sweep}\n\
## Sink (stream to ClickHouse, `SINK_BATCH_WAIT_MS` {})\n\n\
| rows | rows/s | limit: direct `clickhouse` crate insert of the same rows | ratio | limit: raw JetStream pull + ack of the same messages | ratio |\n|---|---|---|---|---|---|\n\
| {} | {:.0} | {:.0} rows/s | {sink_ratio:.2} | {:.0} rows/s | {consume_ratio:.2} |\n\n\
CPU µs per row while the sink drains the stream: sink {:.1}, nats-server {:.1}, ClickHouse {:.1} \
(direct insert: ClickHouse {:.1}).\n\n\
## Freshness (2xx at ingest to counted by the query API)\n\n\
{:.0} events/s for {} events in 10-event requests through edge, one event name per 100 ms of sending; \
the query API polled through edge back to back (`top?dimension=event`, a poll every {:.0} ms). \
An event is fresh at the end of the first poll that counts every event of its name, so each figure \
is an upper bound by up to one poll. Sink batch wait {} ms.\n\n\
| p50 | p99 | max | target |\n|---|---|---|---|\n| {:.0} ms | {:.0} ms | {:.0} ms | p99 < 2 s |\n\n\
## Resources\n\n\
Peak resident memory (VmHWM) over the pipeline scenarios, MiB: {}.\n\n\
CPU s per million events: ingest {:.1}, edge {:.1}, nats-server {:.1} (ingest) + {:.1} (sink's reads), sink {:.1}, ClickHouse {:.1}.\n\n\
{hostile_markdown}\
## Queries ({} generated events; targets: trends and top values < 300 ms, funnel and retention < 1.5 s)\n\n\
| call | p50 through edge | ratio | p50 at query | limit: the same SQL straight to ClickHouse, p50 | ratio at query |\n|---|---|---|---|---|---|\n{query_markdown}\n{auth_markdown}",
        if quick { "Quick" } else { "Full" },
        machine["cpu"].as_str().unwrap_or("unknown CPU"),
        crate::pipeline_bench::CLIENTS,
        crate::pipeline_bench::SINGLE_CLIENTS,
        p.rounds,
        row(
            "100-event batches through edge",
            &p.batch_edge,
            Some(&p.raw_batch)
        ),
        row(
            "100-event batches straight to ingest",
            &p.batch,
            Some(&p.raw_batch)
        ),
        row(
            "single events through edge",
            &p.single_edge,
            Some(&p.raw_single)
        ),
        row(
            "single events straight to ingest",
            &p.single,
            Some(&p.raw_single)
        ),
        row(
            &format!(
                "single events through edge, {} clients",
                crate::pipeline_bench::CLIENTS
            ),
            &p.single_edge_few,
            None
        ),
        p.ingest_cpu_us[0],
        p.ingest_cpu_us[1],
        p.ingest_cpu_us[2],
        p.ingest_cpu_us[3],
        p.single_cpu_us[0],
        p.single_cpu_us[1],
        p.single_cpu_us[2],
        p.single_cpu_us[3],
        crate::pipeline_bench::SINK_BATCH_WAIT_MS,
        p.rows,
        p.sink_rows_per_sec,
        p.raw_insert_rows_per_sec,
        p.raw_consume_rows_per_sec,
        p.sink_cpu_us[0],
        p.sink_cpu_us[1],
        p.sink_cpu_us[2],
        p.raw_insert_cpu_us,
        p.freshness.events_per_sec,
        p.freshness.events,
        p.freshness.poll_interval_ms,
        crate::pipeline_bench::SINK_BATCH_WAIT_MS,
        p.freshness.p50_ms,
        p.freshness.p99_ms,
        p.freshness.max_ms,
        rss.join(", "),
        p.ingest_cpu_us[1],
        p.ingest_cpu_us[0],
        p.ingest_cpu_us[2],
        p.sink_cpu_us[1],
        p.sink_cpu_us[0],
        p.sink_cpu_us[2],
        queries.rows,
    );
    let points: Vec<(usize, f64)> = p
        .by_batch_size
        .iter()
        .map(|(size, load)| (*size, load.events_per_sec))
        .collect();
    let chart = crate::bench_chart::ingest_vs_batch(
        &points,
        p.raw_batch.median().events_per_sec,
        &format!("Ingest through edge, events/s by events per request ({cores} cores)"),
    );
    let docs = devstack::workspace_root().join("docs/bench");
    std::fs::create_dir_all(&docs)?;
    std::fs::write(docs.join("ingest-vs-batch.svg"), &chart)?;
    let out = devstack::workspace_root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(out.join("report.md"), &markdown)?;
    std::fs::write(out.join("ingest-vs-batch.svg"), &chart)?;
    println!("{markdown}");
    println!("written to {}", out.display());
    Ok(())
}

/// Min, median and max of a scenario's rounds (by events/s), each round in full.
fn rounds_json(rounds: &Rounds) -> Value {
    json!({
        "min": load_json(&rounds.min()),
        "median": load_json(&rounds.median()),
        "max": load_json(&rounds.max()),
        "rounds": rounds.0.iter().map(load_json).collect::<Vec<_>>(),
    })
}

/// What the figures ran on: cores, CPU model, memory, and the servers' versions.
fn machine_facts(cores: usize, pipeline: &crate::pipeline_bench::PipelineReport) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned());
    let memory_mib =
        devstack::process::proc_kib("/proc/meminfo", "MemTotal:").map(|kib| (kib / 1024.0).round());
    json!({
        "cores": cores,
        "cpu": cpu,
        "memory_mib": memory_mib,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "nats_server": pipeline.nats_version,
        "clickhouse": pipeline.clickhouse_version,
    })
}

fn load_json(load: &Load) -> Value {
    json!({
        "events_per_sec": load.events_per_sec,
        "requests_per_sec": load.requests_per_sec,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
    })
}

/// Logins against the argon2id bound, and token costs.
fn auth_scenario(quick: bool, dir: &TempDir, clients: usize) -> anyhow::Result<(Value, String)> {
    let (sequential, per_client, crypto_seconds) = if quick { (40, 40, 3) } else { (200, 200, 10) };
    let auth_bin = devstack::workspace_root().join("target/release/auth");
    let nats = NatsServer::start(
        &dir.path().join("nats-auth"),
        free_port()?,
        None,
        NatsPasswords::generate(),
    )?;
    eprintln!("auth: measuring argon2id and token costs ({crypto_seconds} s)");
    let crypto = Command::new(&auth_bin)
        .args(["bench-crypto", &crypto_seconds.to_string()])
        .output()
        .context("running auth bench-crypto")?;
    anyhow::ensure!(crypto.status.success(), "auth bench-crypto failed");
    let crypto: Value =
        serde_json::from_slice(&crypto.stdout).context("auth bench-crypto output")?;

    let mut auth = start_auth(&dir.path().join("auth"), &nats.url(), &[])?;
    let port = auth.port;
    let login =
        json!({ "email": "bench@example.com", "password": "benchmark password 123" }).to_string();
    let post = |path: &str| {
        devstack::http::request(
            port,
            "POST",
            path,
            Some("application/json"),
            login.as_bytes(),
            Duration::from_secs(30),
        )
    };
    let register = post("/api/auth/register")?;
    anyhow::ensure!(
        register.status == 201,
        "register answered {}: {}",
        register.status,
        register.body
    );
    let one_login = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = post("/api/auth/login")?;
        anyhow::ensure!(
            response.status == 200,
            "login answered {}: {}",
            response.status,
            response.body
        );
        Ok(started.elapsed())
    };

    eprintln!("auth: {sequential} sequential logins");
    for _ in 0..5 {
        one_login()?;
    }
    let mut latencies = (0..sequential)
        .map(|_| one_login())
        .collect::<anyhow::Result<Vec<_>>>()?;
    latencies.sort();
    eprintln!("auth: {clients} clients x {per_client} logins");
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..clients)
            .map(|_| scope.spawn(|| (0..per_client).try_for_each(|_| one_login().map(|_| ()))))
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
        }
        Ok(())
    })?;
    let logins_per_sec = (clients * per_client) as f64 / started.elapsed().as_secs_f64();
    let token = serde_json::from_str::<Value>(&post("/api/auth/login")?.body)?["access_token"]
        .as_str()
        .context("login answered no access token")?
        .to_owned();
    let (edge, edge_markdown) = edge_overhead(quick, dir, port, &token)?;
    auth.process.stop();

    let hashes_per_sec = crypto["hashes_per_sec"].as_f64().unwrap_or(0.0);
    let p50 = percentile_ms(&latencies, 0.50);
    let p99 = percentile_ms(&latencies, 0.99);
    let ratio = if hashes_per_sec > 0.0 {
        logins_per_sec / hashes_per_sec
    } else {
        0.0
    };
    let hash_ms = if hashes_per_sec > 0.0 {
        1000.0 * clients as f64 / hashes_per_sec
    } else {
        0.0
    };
    let verify_us = crypto["jwt_verify_us"].as_f64().unwrap_or(0.0);
    let sign_us = crypto["jwt_sign_us"].as_f64().unwrap_or(0.0);
    let report = json!({
        "edge": edge,
        "login_p50_ms": p50,
        "login_p99_ms": p99,
        "logins_per_sec": logins_per_sec,
        "argon2id_hashes_per_sec": hashes_per_sec,
        "logins_to_hashes_ratio": ratio,
        "jwt_verify_us": verify_us,
        "jwt_sign_us": sign_us,
    });
    let markdown = format!(
        "## Auth\n\n| figure | value | limit measured in the same run | ratio |\n|---|---|---|---|\n\
| logins/s ({clients} clients) | {logins_per_sec:.1} | argon2id hashes/s on all cores: {hashes_per_sec:.1} | {ratio:.2} |\n\
| login latency p50 / p99 | {p50:.1} ms / {p99:.1} ms | one argon2id hash: {hash_ms:.1} ms per core | |\n\
| JWT verification | {verify_us:.1} µs | | |\n| JWT signing | {sign_us:.1} µs | | |\n\n{edge_markdown}"
    );
    Ok((report, markdown))
}

/// What edge adds to a request: the same calls, one after another on a keep-alive connection,
/// through the release edge and straight to auth. `/.well-known/jwks.json` is the bare proxy;
/// `/api/auth/me` adds the token check at the door.
fn edge_overhead(
    quick: bool,
    dir: &TempDir,
    auth_port: u16,
    token: &str,
) -> anyhow::Result<(Value, String)> {
    let rounds = if quick { 1_000 } else { 5_000 };
    let port = free_port()?;
    let mut edge = start_edge(dir, "edge-overhead", port, auth_port, 9, 9)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let measure = |target: u16, path: &'static str| {
        let client = client.clone();
        let token = token.to_owned();
        runtime.block_on(async move {
            let url = format!("http://127.0.0.1:{target}{path}");
            let mut latencies = Vec::with_capacity(rounds);
            for round in 0..rounds + 100 {
                let started = Instant::now();
                let response = client.get(&url).bearer_auth(&token).send().await?;
                anyhow::ensure!(
                    response.status() == 200,
                    "{path} answered {}",
                    response.status()
                );
                response.bytes().await?;
                if round >= 100 {
                    latencies.push(started.elapsed());
                }
            }
            latencies.sort();
            Ok::<_, anyhow::Error>((
                percentile_ms(&latencies, 0.50),
                percentile_ms(&latencies, 0.99),
            ))
        })
    };
    let mut rows = Vec::new();
    let mut markdown = format!(
        "## Edge overhead ({rounds} sequential requests each, keep-alive)\n\n\
| call | through edge p50 / p99 | straight to auth p50 / p99 | added by edge p50 / p99 |\n|---|---|---|---|\n"
    );
    for path in ["/.well-known/jwks.json", "/api/auth/me"] {
        eprintln!("edge: {rounds} x {path} through edge and direct");
        let (edge_p50, edge_p99) = measure(port, path)?;
        let (direct_p50, direct_p99) = measure(auth_port, path)?;
        let _ = writeln!(
            markdown,
            "| `GET {path}` | {edge_p50:.3} / {edge_p99:.3} ms | {direct_p50:.3} / {direct_p99:.3} ms | {:.3} / {:.3} ms |",
            edge_p50 - direct_p50,
            edge_p99 - direct_p99,
        );
        rows.push(json!({
            "path": path,
            "edge_p50_ms": edge_p50, "edge_p99_ms": edge_p99,
            "direct_p50_ms": direct_p50, "direct_p99_ms": direct_p99,
            "added_p50_ms": edge_p50 - direct_p50, "added_p99_ms": edge_p99 - direct_p99,
        }));
    }
    edge.stop();
    Ok((Value::Array(rows), markdown))
}

/// The release edge on `port` in front of auth, ingest and query on theirs (9, the discard
/// port, for one not running), with no per-user rate limit; waits for liveness, since edge is
/// never ready while a service behind it is missing.
pub(crate) fn start_edge(
    dir: &TempDir,
    name: &str,
    port: u16,
    auth_port: u16,
    ingest_port: u16,
    query_port: u16,
) -> anyhow::Result<Process> {
    let ui = devstack::workspace_root().join("ui/dist");
    let env = [
        ("API_GATEWAY_PORT", port.to_string()),
        // Its internal listener too, so it never meets another edge's (or `up`'s) on 8005.
        ("EDGE_METRICS_PORT", free_port()?.to_string()),
        ("AUTH_URL", format!("http://127.0.0.1:{auth_port}")),
        ("INGEST_URL", format!("http://127.0.0.1:{ingest_port}")),
        ("QUERY_URL", format!("http://127.0.0.1:{query_port}")),
        ("UI_DIR", ui.display().to_string()),
        // The bench measures capacity and latency, not the per-user policy.
        ("API_REQUESTS_PER_MINUTE_PER_USER", "0".to_owned()),
    ];
    start_release(dir.path(), name, "edge", &env, Some((port, "/healthz")))
}

/// The release build of `service`, started with `env` and `RUST_LOG=warn`, its output in
/// `<dir>/<name>.log`; with `probe` (a port and path), waits up to a minute for it to answer 200.
pub(crate) fn start_release(
    dir: &Path,
    name: &str,
    service: &str,
    env: &[(&str, String)],
    probe: Option<(u16, &str)>,
) -> anyhow::Result<Process> {
    let mut command = Command::new(
        devstack::workspace_root()
            .join("target/release")
            .join(service),
    );
    command.env("RUST_LOG", "warn");
    for (variable, value) in env {
        command.env(variable, value);
    }
    let log = dir.join(format!("{name}.log"));
    let mut process = Process::spawn(service, command, &log, Options::default())?;
    if let Some((port, path)) = probe {
        process.wait_ready(path, Duration::from_secs(60), &log, || {
            devstack::http::get(port, path, Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
        })?;
    }
    Ok(process)
}

/// The release auth on a free port, with a Postgres of its own in `dir`, signing keys, and
/// the extra environment `env`.
pub(crate) struct BenchAuth {
    pub process: Process,
    pub port: u16,
    _postgres: Postgres,
}

pub(crate) fn start_auth(
    dir: &std::path::Path,
    nats_url: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<BenchAuth> {
    let auth_bin = devstack::workspace_root().join("target/release/auth");
    let postgres = Postgres::start(PostgresOptions {
        dir: dir.join("postgres"),
        port: free_port()?,
        password: "bench-password".to_owned(),
        ephemeral: false,
    })?;
    postgres.create_database("bench")?;
    let keys = dir.join("signing-keys");
    run(Command::new(&auth_bin).args(["keys", "add"]).arg(&keys))?;
    let port = free_port()?;
    let mut settings = vec![
        ("AUTH_PORT", port.to_string()),
        ("NATS_URL", nats_url.to_owned()),
        ("POSTGRES_PORT", postgres.port().to_string()),
        ("POSTGRES_DB", "bench".to_owned()),
        ("POSTGRES_PASSWORD", postgres.password().to_owned()),
        ("AUTH_SIGNING_KEYS_FILE", keys.display().to_string()),
    ];
    settings.extend(env.iter().map(|(name, value)| (*name, (*value).to_owned())));
    let process = start_release(dir, "auth", "auth", &settings, Some((port, "/readyz")))?;
    Ok(BenchAuth {
        process,
        port,
        _postgres: postgres,
    })
}

pub(crate) fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}
