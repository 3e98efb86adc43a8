//! The scaling scenario: 100-event batches straight to one ingest, then as many split over two
//! ingest processes at once; the events each load stored drained by one sink, then by two sinks
//! on the one durable consumer; then two and one again. Events/s and rows/s of each over its
//! two runs, and the ratios two/one.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use async_nats::jetstream;
use devstack::clickhouse::ClickHouse;
use serde_json::{Value, json};

use super::backpressure::Backpressure;
use super::drain::{Drain, still_running};
use super::intake::empty_the_log;
use super::load::ratio;
use super::quiet::settle;
use super::send::{CLIENTS, http_load, pageviews};
use super::sink::Sink;

/// What the scaling scenario measured.
#[derive(Debug)]
pub(crate) struct ScalingReport {
    /// Events sent to the ingests in each run.
    pub(crate) events: usize,
    /// Events/s of one ingest, then of two together.
    pub(crate) ingest: [f64; 2],
    /// Rows/s of one sink, then of two together, and the rows each drained (both runs).
    pub(crate) sink: [f64; 2],
    pub(crate) rows: [usize; 2],
    /// The 503s and 429s of the loads to one ingest, then to two (both runs).
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

/// The order of the phases, by replicas: one, two, two, one, so that what drifts over the
/// scenario (ClickHouse's table grows, nats-server's memory) weighs on one and two alike.
const ORDER: [usize; 4] = [1, 2, 2, 1];

/// One phase's sums: events sent, seconds of the loads, rows drained, seconds of the drains.
#[derive(Default)]
struct Totals {
    events: usize,
    ingest_secs: f64,
    rows: usize,
    sink_secs: f64,
    backpressure: Backpressure,
}

/// One ingest then two, then two and one again (`ingests`, PostHog `/batch/` URLs straight to
/// each), each load then drained into `clickhouse` by as many replicas of `sink`. Before each
/// timed load or drain, ClickHouse's merges and EVENTS settle; each figure is over both runs.
pub(crate) async fn run(
    quick: bool,
    dir: &Path,
    js: &jetstream::Context,
    clickhouse: &ClickHouse,
    ingests: [&str; 2],
    sink: &Sink,
    nats_peak_before_mib: f64,
) -> anyhow::Result<ScalingReport> {
    let started = Instant::now();
    let events = if quick { 200_000 } else { 1_000_000 };
    let mut totals: [Totals; 2] = Default::default();
    for (run, replicas) in ORDER.into_iter().enumerate() {
        let total = &mut totals[replicas - 1];
        empty_the_log(js).await?;
        settle(
            js,
            Some(clickhouse),
            &format!("scaling: {replicas} ingest(s)"),
        )
        .await?;
        eprintln!("scaling: {events} events in 100-event batches straight to {replicas} ingest(s)");
        let (sent, secs, backpressure) = ingest(&ingests[..replicas], events).await?;
        total.events += sent;
        total.ingest_secs += secs;
        total.backpressure = total.backpressure.merge(backpressure);
        settle(
            js,
            Some(clickhouse),
            &format!("scaling: {replicas} sink(s)"),
        )
        .await?;
        let drain = Drain::before(js, "sink-clickhouse").await?;
        eprintln!(
            "scaling: {:.0} events/s; {replicas} sink(s) drain {} rows",
            sent as f64 / secs,
            drain.rows
        );
        let sinks = (1..=replicas)
            .map(|n| sink.replica(&format!("sink-scaling-{run}-{n}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut running = sinks
            .iter()
            .map(|sink| sink.start(dir))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rate = drain.rate(|| still_running(&mut running)).await;
        running.iter_mut().for_each(|sink| sink.stop());
        let rate = rate?;
        total.rows += drain.rows;
        total.sink_secs += drain.rows as f64 / rate;
        eprintln!("scaling: {rate:.0} rows/s");
    }
    let report = ScalingReport {
        events,
        ingest: totals.each_ref().map(|t| t.events as f64 / t.ingest_secs),
        sink: totals.each_ref().map(|t| t.rows as f64 / t.sink_secs),
        rows: totals.each_ref().map(|t| t.rows),
        backpressure: totals.each_ref().map(|t| t.backpressure),
        secs: started.elapsed().as_secs_f64(),
        nats_peak_before_mib,
    };
    eprintln!(
        "scaling: two ingests / one {:.2}, two sinks / one {:.2} ({:.0} s)",
        report.ingest_ratio(),
        report.sink_ratio(),
        report.secs
    );
    Ok(report)
}

/// `events` in 100-event batches split evenly over `urls` at once, `CLIENTS` clients in all:
/// the events sent, the seconds on one clock for all the loads (from before any of them
/// connected to the last answer of the slowest), and the 503s and 429s met.
async fn ingest(urls: &[&str], events: usize) -> anyhow::Result<(usize, f64, Backpressure)> {
    let requests = events / 100 / urls.len();
    let clients = (CLIENTS / urls.len()).max(1);
    // The bodies are made before the clock starts.
    let loads: Vec<_> = urls
        .iter()
        .map(|url| http_load(url, pageviews(requests, 100), 100, clients))
        .collect();
    let started = Instant::now();
    let loads = futures_util::future::try_join_all(loads).await?;
    let secs = started.elapsed().as_secs_f64();
    let sent = requests * 100 * urls.len();
    let backpressure = Backpressure::sum(loads.iter().map(|load| load.backpressure));
    Ok((sent, secs, backpressure))
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
then by two sinks on the one durable consumer; each twice, in the order one, two, two, one, and \
each figure over both runs. Before each load and each drain, ClickHouse's merges and the stream \
(its history's copy, the sink's acks) have finished. A load is timed on one clock for both \
ingests, from before either connected to the last answer; a drain as the sink's above, from the \
consumer's first delivery to its last message acked. Every process shares the same {cores} \
cores, so a second replica can only add what one left idle; the multi-machine proof is the \
scale-out test (docs/scaling.md).\n\n\
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
        "| sink, rows/s | {:.0} ({} rows, both runs) | {:.0} ({} rows, both runs) | {:.2} |\n",
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
