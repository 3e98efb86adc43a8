//! The scaling scenario: 100-event batches straight to one ingest, then as many split over two
//! ingest processes at once; the events each load stored drained by one sink, then by two sinks
//! on the one durable consumer. Events/s and rows/s of each, and the ratios two/one.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use async_nats::jetstream;
use serde_json::{Value, json};

use super::backpressure::Backpressure;
use super::intake::empty_the_log;
use super::load::ratio;
use super::send::{CLIENTS, http_load, pageviews};
use super::sink::Sink;
use super::sink_rate::sink_rate;

/// What the scaling scenario measured.
#[derive(Debug)]
pub(crate) struct ScalingReport {
    /// Events sent to the ingests in each half.
    pub(crate) events: usize,
    /// Events/s of one ingest, then of two together.
    pub(crate) ingest: [f64; 2],
    /// Rows/s of one sink, then of two together, and the rows each drained.
    pub(crate) sink: [f64; 2],
    pub(crate) rows: [usize; 2],
    /// The 503s and 429s of the loads to one ingest, then to two.
    pub(crate) backpressure: [Backpressure; 2],
    /// How long the whole scenario took, s.
    pub(crate) secs: f64,
    /// nats-server's peak resident memory before the scenario, MiB (the report's peak is of
    /// the whole pipeline run, this scenario included).
    pub(crate) nats_peak_before_mib: f64,
}

impl ScalingReport {
    /// Two ingests against one.
    pub(crate) fn ingest_ratio(&self) -> f64 {
        ratio(self.ingest[1], self.ingest[0])
    }

    /// Two sinks against one.
    pub(crate) fn sink_ratio(&self) -> f64 {
        ratio(self.sink[1], self.sink[0])
    }
}

/// One ingest then two (`ingests`, PostHog `/batch/` URLs straight to each), each load then
/// drained into `sink`'s ClickHouse by one replica of `sink` and then two.
pub(crate) async fn run(
    quick: bool,
    dir: &Path,
    js: &jetstream::Context,
    ingests: [&str; 2],
    sink: &Sink,
    nats_peak_before_mib: f64,
) -> anyhow::Result<ScalingReport> {
    let started = Instant::now();
    let events = if quick { 200_000 } else { 1_000_000 };
    let mut report = ScalingReport {
        events,
        ingest: [0.0; 2],
        sink: [0.0; 2],
        rows: [0; 2],
        backpressure: [Backpressure::default(); 2],
        secs: 0.0,
        nats_peak_before_mib,
    };
    for replicas in 1..=2 {
        let i = replicas - 1;
        empty_the_log(js).await?;
        eprintln!("scaling: {events} events in 100-event batches straight to {replicas} ingest(s)");
        (report.ingest[i], report.backpressure[i]) = ingest(&ingests[..replicas], events).await?;
        report.rows[i] = js.get_stream("EVENTS").await?.info().await?.state.messages as usize;
        eprintln!(
            "scaling: {:.0} events/s; {} sink(s) drain {} rows",
            report.ingest[i], replicas, report.rows[i]
        );
        let sinks = (1..=replicas)
            .map(|n| sink.replica(&format!("sink-scaling-{replicas}-{n}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut running = sinks
            .iter()
            .map(|sink| sink.start(dir))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let ports: Vec<u16> = sinks.iter().map(|sink| sink.port).collect();
        let rate = sink_rate(&mut running, &ports, report.rows[i]);
        running.iter_mut().for_each(|sink| sink.stop());
        report.sink[i] = rate?;
        eprintln!("scaling: {:.0} rows/s", report.sink[i]);
    }
    report.secs = started.elapsed().as_secs_f64();
    eprintln!(
        "scaling: two ingests / one {:.2}, two sinks / one {:.2} ({:.0} s)",
        report.ingest_ratio(),
        report.sink_ratio(),
        report.secs
    );
    Ok(report)
}

/// `events` in 100-event batches split evenly over `urls` at once, `CLIENTS` clients in all:
/// events/s of them together (to the end of the slowest), and the 503s and 429s met.
async fn ingest(urls: &[&str], events: usize) -> anyhow::Result<(f64, Backpressure)> {
    let requests = events / 100 / urls.len();
    let clients = (CLIENTS / urls.len()).max(1);
    let loads = futures_util::future::try_join_all(
        urls.iter()
            .map(|url| http_load(url, pageviews(requests, 100), 100, clients)),
    )
    .await?;
    // Each load's own clock (from its first request, connecting excluded); the slowest ends it.
    let slowest = loads
        .iter()
        .map(|load| (requests * 100) as f64 / load.events_per_sec)
        .fold(0.0, f64::max);
    let sent = requests * 100 * urls.len();
    let backpressure = Backpressure::sum(loads.iter().map(|load| load.backpressure));
    Ok((sent as f64 / slowest, backpressure))
}

pub(crate) fn json(s: &ScalingReport) -> Value {
    json!({
        "events": s.events,
        "ingest_one_events_per_sec": s.ingest[0],
        "ingest_two_events_per_sec": s.ingest[1],
        "ingest_ratio": s.ingest_ratio(),
        "sink_one_rows": s.rows[0],
        "sink_two_rows": s.rows[1],
        "sink_one_rows_per_sec": s.sink[0],
        "sink_two_rows_per_sec": s.sink[1],
        "sink_ratio": s.sink_ratio(),
        "seconds": s.secs,
        "nats_server_peak_rss_mib_before": s.nats_peak_before_mib,
    })
}

pub(crate) fn markdown(s: &ScalingReport, cores: usize) -> String {
    let mut out = format!(
        "## Scaling (one replica against two, on this {cores}-core machine)\n\n\
{} events in 100-event batches straight to one ingest, then split over two ingest processes at \
once ({CLIENTS} clients in all); what each load stored then drained into ClickHouse by one sink, \
then by two sinks on the one durable consumer (rows/s from the sum of their counters, from the \
first batch). Every process shares the same {cores} cores, so a second replica can only add what \
one left idle; the multi-machine proof is the scale-out test (docs/scaling.md).\n\n\
| | one | two | ratio two / one |\n|---|---|---|---|\n",
        s.events
    );
    let _ = writeln!(
        out,
        "| ingest, events/s | {:.0} | {:.0} | {:.2} |",
        s.ingest[0],
        s.ingest[1],
        s.ingest_ratio()
    );
    let _ = writeln!(
        out,
        "| sink, rows/s | {:.0} ({} rows) | {:.0} ({} rows) | {:.2} |\n",
        s.sink[0],
        s.rows[0],
        s.sink[1],
        s.rows[1],
        s.sink_ratio()
    );
    let _ = writeln!(
        out,
        "nats-server's peak resident memory before this scenario: {:.0} MiB.\n",
        s.nats_peak_before_mib
    );
    out
}
