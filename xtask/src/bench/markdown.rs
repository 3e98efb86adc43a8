//! The report in markdown: one function per section, in the order the report reads.

use std::fmt::Write as _;

use serde_json::Value;

use super::intake::IntakeReport;
use super::load::{Rounds, ratio};
use super::pipeline::PipelineReport;
use super::queries::QueryReport;
use super::send::{CLIENTS, SINGLE_CLIENTS};
use super::sink::SINK_BATCH_WAIT_MS;
use super::targets::{self, Ratios, Target};

/// What the sections are written from.
pub(crate) struct Inputs<'a> {
    pub(crate) pipeline: &'a PipelineReport,
    pub(crate) queries: &'a QueryReport,
    pub(crate) ratios: &'a Ratios,
    pub(crate) targets: &'a [Target],
    pub(crate) auth_markdown: &'a str,
    /// The facts `machine` lists, as in the JSON report.
    pub(crate) machine: &'a Value,
    /// Where the chart is, relative to the markdown file.
    pub(crate) chart: &'a str,
}

/// Every section after the title and the line that says what ran where.
pub(crate) fn sections(inputs: &Inputs<'_>) -> String {
    let p = inputs.pipeline;
    [
        format!(
            "## Targets (issues 9, 20 and 21)\n\n| target | measured | holds? |\n|---|---|---|\n{}\n",
            targets::markdown(inputs.targets)
        ),
        ingest(&p.intake, inputs.ratios),
        cpu_per_event(p),
        by_batch_size(&p.intake, inputs.chart),
        super::backpressure_table::markdown(p, inputs.queries),
        sink(p, inputs.ratios),
        super::scaling::markdown(
            &p.scaling,
            inputs.machine["cores"].as_u64().unwrap_or(2) as usize,
        ),
        freshness(p),
        resources(p),
        super::imports::markdown(&p.import, p.sink.rows_per_sec),
        super::hostile::markdown(&p.hostile, contract::event::MAX_DECODED_REQUEST_BYTES),
        queries(inputs.queries),
        inputs.auth_markdown.to_owned(),
        machine(inputs.machine),
    ]
    .concat()
}

/// `Quick run on 2 cores (AMD EPYC)`, the start of the line under the title.
pub(crate) fn run_line(quick: bool, cores: usize, machine: &Value) -> String {
    format!(
        "{} run on {cores} cores ({}), the whole stack on this machine.\n\n",
        if quick { "Quick" } else { "Full" },
        machine["cpu"].as_str().unwrap_or("unknown CPU"),
    )
}

fn ingest(i: &IntakeReport, r: &Ratios) -> String {
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
    let mut out = format!(
        "## Ingest (HTTP, PostHog `/batch/`, keep-alive clients: {CLIENTS} for batches, {SINGLE_CLIENTS} for single events; median of {} rounds after a warm-up)\n\n\
| load | events/s | p50 / p99 | limit: raw JetStream publish of the same events, same acks | ratio |\n\
|---|---|---|---|---|\n",
        i.rounds
    );
    out += &row(
        "100-event batches through edge",
        &i.batch_edge,
        Some(&i.raw_batch),
    );
    out += &row(
        "100-event batches straight to ingest",
        &i.batch,
        Some(&i.raw_batch),
    );
    out += &row(
        "single events through edge",
        &i.single_edge,
        Some(&i.raw_single),
    );
    out += &row(
        "single events straight to ingest",
        &i.single,
        Some(&i.raw_single),
    );
    let few = format!("single events through edge, {CLIENTS} clients");
    out += &row(&few, &i.single_edge_few, None);
    let _ = writeln!(
        out,
        "| single events through edge, paced at half the median rate ({:.0} req/s, open loop), right after the rounds above | {:.0} | {:.1} / {:.1} ms (one round) | | |",
        i.after_burst.target_events_per_sec,
        i.after_burst.load.events_per_sec,
        i.after_burst.load.p50_ms,
        i.after_burst.load.p99_ms,
    );
    let _ = writeln!(
        out,
        "| the same, once the duplicate window had passed since those rounds | {:.0} | {:.1} / {:.1} ms (median round) | | |\n",
        r.half.load.events_per_sec, r.half.load.p50_ms, r.half.load.p99_ms,
    );
    out
}

fn cpu_per_event(p: &PipelineReport) -> String {
    let (batch, single) = (p.ingest_cpu_us, p.intake.single_cpu_us);
    format!(
        "CPU µs per event while 100-event batches went through edge: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}. \
Per request while single events went through edge: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}.\n\n",
        batch[0], batch[1], batch[2], batch[3], single[0], single[1], single[2], single[3],
    )
}

fn by_batch_size(i: &IntakeReport, chart: &str) -> String {
    let raw = i.raw_batch.median().events_per_sec;
    let sweep: String = i
        .by_batch_size
        .iter()
        .map(|(size, load)| {
            format!(
                "| {size} | {:.0} | {:.0} | {:.1} / {:.1} ms | {:.2} |\n",
                load.events_per_sec,
                load.requests_per_sec,
                load.p50_ms,
                load.p99_ms,
                ratio(load.events_per_sec, raw)
            )
        })
        .collect();
    format!(
        "### Events/s by events per request (through edge, one round each)\n\n\
![ingest events/s by batch size]({chart})\n\n\
| events per request | events/s | req/s | p50 / p99 | ratio to raw publish of 100-event batches |\n|---|---|---|---|---|\n{sweep}\n"
    )
}

fn sink(p: &PipelineReport, r: &Ratios) -> String {
    let s = &p.sink;
    format!(
        "## Sink (stream to ClickHouse, `SINK_BATCH_WAIT_MS` {SINK_BATCH_WAIT_MS})\n\n\
| rows | rows/s | limit: direct `clickhouse` crate insert of the same rows | ratio | limit: raw JetStream pull + explicit ack of each message | ratio | limit: raw pull, `AckAll` once per batch | ratio |\n|---|---|---|---|---|---|---|---|\n\
| {} | {:.0} | {:.0} rows/s | {:.2} | {:.0} rows/s | {:.2} | {:.0} rows/s | {:.2} |\n\n\
The sink and the bare consumers are timed alike: from the first message JetStream delivered to \
the durable consumer to the moment it had every message acked, both read from nats-server's \
consumer info (asked every 10 ms, each end taken halfway between two answers); the sink's start, \
connecting and schema fall outside, its read-ahead and its last batch's acks inside. The direct \
insert is timed from its first insert to ClickHouse's confirmation of its last. Batches of {} \
rows for the sink, the direct insert and `AckAll`'s acks. The bare consumers read in the order \
explicit acks, `AckAll`, `AckAll`, explicit acks, each figure the better of its two reads. Before \
each, ClickHouse's merges and the stream (its history's copy) had finished.\n\n\
nats-server CPU µs per row while the bare consumers read: explicit acks {:.1}, `AckAll` {:.1}. \
CPU µs per row while the sink drains the stream: sink {:.1}, nats-server {:.1}, ClickHouse {:.1} \
(direct insert: ClickHouse {:.1}).\n\n",
        s.rows,
        s.rows_per_sec,
        s.raw_insert_rows_per_sec,
        r.sink,
        s.raw_consume_rows_per_sec,
        r.consume,
        s.raw_ack_all_rows_per_sec,
        r.ack_all,
        s.batch,
        s.raw_consume_nats_cpu_us[0],
        s.raw_consume_nats_cpu_us[1],
        s.cpu_us[0],
        s.cpu_us[1],
        s.cpu_us[2],
        s.raw_insert_cpu_us,
    )
}

fn freshness(p: &PipelineReport) -> String {
    let f = &p.freshness;
    format!(
        "## Freshness (2xx at ingest to counted by the query API)\n\n\
{:.0} events/s for {} events in 10-event requests through edge, one event name per 100 ms of sending; \
the query API polled through edge back to back (`top?dimension=event`, a poll every {:.0} ms). \
An event is fresh at the end of the first poll that counts every event of its name, so each figure \
is an upper bound by up to one poll. Sink batch wait {SINK_BATCH_WAIT_MS} ms.\n\n\
| p50 | p99 | max | target |\n|---|---|---|---|\n| {:.0} ms | {:.0} ms | {:.0} ms | p99 < 2 s |\n\n",
        f.events_per_sec, f.events, f.poll_interval_ms, f.p50_ms, f.p99_ms, f.max_ms,
    )
}

fn resources(p: &PipelineReport) -> String {
    let rss: Vec<String> = p
        .peak_rss_mib
        .iter()
        .map(|(name, mib)| format!("{name} {mib:.0}"))
        .collect();
    let (ingest, sink) = (p.ingest_cpu_us, p.sink.cpu_us);
    format!(
        "## Resources\n\n\
Peak resident memory (VmHWM) over the pipeline scenarios, MiB: {}.\n\n\
CPU s per million events: ingest {:.1}, edge {:.1}, nats-server {:.1} (ingest) + {:.1} (sink's reads), sink {:.1}, ClickHouse {:.1}.\n\n",
        rss.join(", "),
        ingest[1],
        ingest[0],
        ingest[2],
        sink[1],
        sink[0],
        sink[2],
    )
}

pub(crate) fn queries(queries: &QueryReport) -> String {
    let rows: String = queries
        .scenarios
        .iter()
        .map(|s| {
            format!(
                "| {} | {:.1} ms | {:.2} | {:.1} ms | {:.1} ms ({} statements) | {:.2} | {:.1} ms |\n",
                s.name,
                s.edge_p50_ms,
                ratio(s.edge_p50_ms, s.direct_p50_ms),
                s.p50_ms,
                s.direct_p50_ms,
                s.statements,
                ratio(s.p50_ms, s.direct_p50_ms),
                s.first_ms
            )
        })
        .collect();
    format!(
        "## Queries ({} generated events; targets: overview, trends and top values < 500 ms, funnel and retention < 5 s; persons counted through identity links)\n\n\
| call | p50 through edge | ratio | p50 at query | limit: the same SQL straight to ClickHouse, p50 | ratio at query | first call at query |\n|---|---|---|---|---|---|---|\n{rows}\n\
The overview keeps figures per day between calls (docs/guarantees.md, \"The overview's kept days\"): its first call reads every day, later calls only the days that changed since and the days the periods' ends cut.\n",
        queries.rows
    )
}

/// What the figures ran on, from the JSON report's `machine`.
fn machine(machine: &Value) -> String {
    let text = |key: &str| match &machine[key] {
        Value::String(text) if !text.is_empty() => text.clone(),
        Value::Number(number) => number
            .as_f64()
            .map_or_else(|| number.to_string(), |n| format!("{n:.0}")),
        _ => "unknown".to_owned(),
    };
    format!(
        "\n## Machine\n\n| | |\n|---|---|\n\
| run | {} UTC, commit {} |\n| CPU | {}, {} cores |\n| memory | {} MiB |\n| OS | {} {} |\n\
| nats-server | {} |\n| ClickHouse | {} |\n",
        text("date"),
        text("commit"),
        text("cpu"),
        text("cores"),
        text("memory_mib"),
        text("os"),
        text("arch"),
        text("nats_server").trim_start_matches("nats-server: "),
        text("clickhouse"),
    )
}
