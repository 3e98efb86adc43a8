//! The report of one run: the JSON (every figure), the markdown (`docs/benchmarks.md`, and
//! `target/bench/report.md` beside `report.json`), and the chart both show.

use std::process::Command;

use serde_json::{Value, json};

use super::chart;
use super::intake::IntakeReport;
use super::load::ratio;
use super::load::{Load, Rounds};
use super::markdown::{self, Inputs};
use super::pipeline::PipelineReport;
use super::queries::QueryReport;
use super::send::{CLIENTS, SINGLE_CLIENTS};
use super::sink::SINK_BATCH_WAIT_MS;
use super::targets::{self, Ratios, Target};

/// Everything one run measured.
pub(crate) struct Report {
    pub(crate) quick: bool,
    pub(crate) cores: usize,
    pub(crate) pipeline: PipelineReport,
    pub(crate) queries: QueryReport,
    /// The auth scenario's JSON and markdown parts.
    pub(crate) auth: (Value, String),
}

/// Writes the report: `docs/benchmarks.md` and `docs/bench/ingest-vs-batch.svg`, and
/// `target/bench/{report.md, report.json, ingest-vs-batch.svg}`; prints the markdown.
pub(crate) fn write(report: &Report) -> anyhow::Result<()> {
    let p = &report.pipeline;
    let machine = machine_facts(report.cores, p);
    let ratios = Ratios::of(p);
    let targets = targets::targets(p, &report.queries, &ratios);
    let json = to_json(report, &machine, &ratios, &targets);
    let inputs = |chart: &'static str| Inputs {
        pipeline: p,
        queries: &report.queries,
        ratios: &ratios,
        targets: &targets,
        auth_markdown: &report.auth.1,
        machine: &machine,
        chart,
    };
    let run_line = markdown::run_line(report.quick, report.cores, &machine);
    let report_md = format!(
        "# Benchmark report\n\n{run_line}{}",
        markdown::sections(&inputs("ingest-vs-batch.svg"))
    );
    let benchmarks_md = format!(
        "# Benchmarks\n\n\
<!-- Written by `cargo xtask bench`: change the bench, not this file. -->\n\n\
The latest report of `cargo xtask bench` (`--quick` for a shorter run), which rewrites this \
file: every figure next to a limit measured in the same run on the same machine. \
{run_line}{}",
        markdown::sections(&inputs("bench/ingest-vs-batch.svg"))
    );
    let points: Vec<(usize, f64)> = p
        .intake
        .by_batch_size
        .iter()
        .map(|(size, load)| (*size, load.events_per_sec))
        .collect();
    let chart = chart::ingest_vs_batch(
        &points,
        p.intake.raw_batch.median().events_per_sec,
        &format!(
            "Ingest through edge, events/s by events per request ({} cores)",
            report.cores
        ),
    );
    let root = devstack::workspace_root();
    let docs = root.join("docs");
    std::fs::create_dir_all(docs.join("bench"))?;
    std::fs::write(docs.join("bench/ingest-vs-batch.svg"), &chart)?;
    std::fs::write(docs.join("benchmarks.md"), &benchmarks_md)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    std::fs::write(out.join("report.md"), &report_md)?;
    std::fs::write(out.join("ingest-vs-batch.svg"), &chart)?;
    println!("{report_md}");
    println!(
        "written to {} and {}",
        docs.join("benchmarks.md").display(),
        out.display()
    );
    Ok(())
}

/// Writes the query scenarios alone (`bench --queries-only`) to `target/bench/queries.md` and
/// prints them; `docs/benchmarks.md` keeps the last whole run.
pub(crate) fn write_queries(queries: &QueryReport) -> anyhow::Result<()> {
    let markdown = markdown::queries(queries);
    let out = devstack::workspace_root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("queries.md"), &markdown)?;
    println!("{markdown}");
    println!("written to {}", out.join("queries.md").display());
    Ok(())
}

/// What the figures ran on: cores, CPU model, memory, the servers' versions, and when, at
/// which commit.
fn machine_facts(cores: usize, pipeline: &PipelineReport) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned());
    let memory_mib =
        devstack::process::proc_kib("/proc/meminfo", "MemTotal:").map(|kib| (kib / 1024.0).round());
    let now = time::OffsetDateTime::now_utc();
    let commit = Command::new("git")
        .current_dir(devstack::workspace_root())
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    json!({
        "cores": cores,
        "cpu": cpu,
        "memory_mib": memory_mib,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "nats_server": pipeline.nats_version,
        "clickhouse": pipeline.clickhouse_version,
        "date": format!("{} {:02}:{:02}", now.date(), now.hour(), now.minute()),
        "commit": commit,
    })
}

/// The whole report as JSON.
fn to_json(report: &Report, machine: &Value, r: &Ratios, targets: &[Target]) -> Value {
    let p = &report.pipeline;
    json!({
        "machine": machine,
        "quick": report.quick,
        "targets": targets.iter().map(|t| json!({
            "target": t.target, "measured": t.measured, "holds": t.holds,
        })).collect::<Vec<_>>(),
        "ingest": ingest_json(&p.intake, p.ingest_cpu_us, r),
        "sink": sink_json(p, r),
        "scaling": super::scaling::json(&p.scaling),
        "freshness": {
            "events_per_sec": p.freshness.events_per_sec,
            "events": p.freshness.events,
            "p50_ms": p.freshness.p50_ms,
            "p99_ms": p.freshness.p99_ms,
            "max_ms": p.freshness.max_ms,
            "poll_interval_ms": p.freshness.poll_interval_ms,
            "sink_batch_wait_ms": SINK_BATCH_WAIT_MS,
        },
        "import": super::imports::json(&p.import),
        "peak_rss_mib": p.peak_rss_mib.iter().map(|(name, mib)| (name.to_string(), json!(mib))).collect::<serde_json::Map<_, _>>(),
        "query": queries_json(&report.queries),
        "auth": report.auth.0,
        "hostile": super::hostile::json(&p.hostile),
        "backpressure": super::backpressure_table::json(p, &report.queries),
    })
}

fn ingest_json(i: &IntakeReport, batch_cpu_us: [f64; 4], r: &Ratios) -> Value {
    let cpu = |us: [f64; 4]| json!({ "edge": us[0], "ingest": us[1], "nats_server": us[2], "load_generator": us[3] });
    json!({
        "rounds": i.rounds,
        "batch_100_through_edge": rounds_json(&i.batch_edge),
        "batch_100_direct": rounds_json(&i.batch),
        "raw_jetstream_batch_100": rounds_json(&i.raw_batch),
        "batch_ratio": r.batch,
        "clients_batches": CLIENTS,
        "clients_single": SINGLE_CLIENTS,
        "single_through_edge": rounds_json(&i.single_edge),
        "single_through_edge_few_clients": rounds_json(&i.single_edge_few),
        "single_direct": rounds_json(&i.single),
        "raw_jetstream_single": rounds_json(&i.raw_single),
        "single_ratio": r.single,
        "single_at_half_rate": i.half_rate.iter().map(|r| json!({
            "target_req_per_sec": r.target_events_per_sec,
            "load": load_json(&r.load),
        })).collect::<Vec<_>>(),
        "single_at_half_rate_median_p99_ms": r.half.load.p99_ms,
        "single_at_half_rate_right_after_the_rounds": json!({
            "target_req_per_sec": i.after_burst.target_events_per_sec,
            "load": load_json(&i.after_burst.load),
        }),
        "events_per_sec_by_batch_size_through_edge": i.by_batch_size.iter().map(|(size, load)| json!({
            "events_per_request": size, "load": load_json(load),
        })).collect::<Vec<_>>(),
        "cpu_us_per_event_batch_100_through_edge": cpu(batch_cpu_us),
        "cpu_us_per_request_single_through_edge": cpu(i.single_cpu_us),
    })
}

fn sink_json(p: &PipelineReport, r: &Ratios) -> Value {
    let s = &p.sink;
    json!({
        "rows": s.rows,
        "batch": s.batch,
        "rows_per_sec": s.rows_per_sec,
        "raw_insert_rows_per_sec": s.raw_insert_rows_per_sec,
        "ratio": r.sink,
        "raw_consume_rows_per_sec": s.raw_consume_rows_per_sec,
        "consume_ratio": r.consume,
        "raw_ack_all_rows_per_sec": s.raw_ack_all_rows_per_sec,
        "ack_all_ratio": r.ack_all,
        "nats_server_cpu_us_per_row_raw_consume": s.raw_consume_nats_cpu_us[0],
        "nats_server_cpu_us_per_row_raw_ack_all": s.raw_consume_nats_cpu_us[1],
        "batch_wait_ms": SINK_BATCH_WAIT_MS,
        "cpu_us_per_row": {
            "sink": s.cpu_us[0],
            "nats_server": s.cpu_us[1],
            "clickhouse": s.cpu_us[2],
            "clickhouse_direct_insert": s.raw_insert_cpu_us,
        },
    })
}

fn queries_json(queries: &QueryReport) -> Value {
    let scenarios: Vec<Value> = queries
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
                "first_ms": s.first_ms,
            })
        })
        .collect();
    json!({ "events": queries.rows, "scenarios": scenarios })
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

fn load_json(load: &Load) -> Value {
    json!({
        "events_per_sec": load.events_per_sec,
        "requests_per_sec": load.requests_per_sec,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
    })
}
