//! The figures the targets (issue 9, and issue 20's import) are judged by, each against its
//! limit, and the targets table itself.

use super::imports::ImportReport;
use super::load::{Paced, ratio};
use super::pipeline::PipelineReport;
use super::queries::QueryReport;
use super::send::SINGLE_CLIENTS;

/// The ratios and the paced round the report states beside the raw figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ratios {
    /// 100-event batches through edge against raw JetStream publish of the same events.
    pub(crate) batch: f64,
    /// Single events through edge against raw JetStream publish of the same events.
    pub(crate) single: f64,
    /// The sink against a direct insert of the same rows.
    pub(crate) sink: f64,
    /// The sink against a bare consumer acking the same messages.
    pub(crate) consume: f64,
    /// The median paced round at half the single-event rate.
    pub(crate) half: Paced,
    /// The median p99 of the paced rounds.
    pub(crate) half_p99: f64,
}

impl Ratios {
    pub(crate) fn of(p: &PipelineReport) -> Self {
        let i = &p.intake;
        let mut half_p99: Vec<f64> = i.half_rate.iter().map(|r| r.load.p99_ms).collect();
        half_p99.sort_by(f64::total_cmp);
        Self {
            batch: ratio(
                i.batch_edge.median().events_per_sec,
                i.raw_batch.median().events_per_sec,
            ),
            single: ratio(
                i.single_edge.median().events_per_sec,
                i.raw_single.median().events_per_sec,
            ),
            sink: ratio(p.sink.rows_per_sec, p.sink.raw_insert_rows_per_sec),
            consume: ratio(p.sink.rows_per_sec, p.sink.raw_consume_rows_per_sec),
            half: i.half_rate[(i.half_rate.len() - 1) / 2],
            half_p99: half_p99[(half_p99.len() - 1) / 2],
        }
    }
}

/// One target: what it asks, what was measured, and whether it holds.
pub(crate) struct Target {
    pub(crate) target: &'static str,
    pub(crate) measured: String,
    pub(crate) holds: bool,
}

fn target(target: &'static str, measured: String, holds: bool) -> Target {
    Target {
        target,
        measured,
        holds,
    }
}

/// Every target of issues 9 and 20, in the report's order.
pub(crate) fn targets(p: &PipelineReport, queries: &QueryReport, r: &Ratios) -> Vec<Target> {
    let (i, s, f) = (&p.intake, &p.sink, &p.freshness);
    let (batch, single) = (i.batch_edge.median(), i.single_edge.median());
    vec![
        target(
            "100-event batches through edge ≥ 50 000 events/s",
            format!("{:.0} events/s", batch.events_per_sec),
            batch.events_per_sec >= 50_000.0,
        ),
        target(
            "100-event batches ≥ 0.7 of raw JetStream publish",
            format!("{:.2}", r.batch),
            r.batch >= 0.7,
        ),
        target(
            "single events through edge ≥ 10 000 req/s",
            format!(
                "{:.0} req/s ({SINGLE_CLIENTS} clients)",
                single.requests_per_sec
            ),
            single.requests_per_sec >= 10_000.0,
        ),
        target(
            "single events at half the max rate: p99 < 20 ms",
            format!(
                "{:.1} ms at {:.0} req/s",
                r.half_p99, r.half.target_events_per_sec
            ),
            r.half_p99 < 20.0,
        ),
        target(
            "sink ≥ 200 000 rows/s",
            format!("{:.0} rows/s", s.rows_per_sec),
            s.rows_per_sec >= 200_000.0,
        ),
        target(
            "sink ≥ 0.7 of direct insert",
            format!("{:.2}", r.sink),
            r.sink >= 0.7,
        ),
        target(
            "freshness p99 < 2 s",
            format!("{:.0} ms at {:.0} events/s", f.p99_ms, f.events_per_sec),
            f.p99_ms < 2_000.0,
        ),
    ]
    .into_iter()
    .chain(import_targets(&p.import))
    .chain(query_targets(queries))
    .collect()
}

/// The import (issue 20): each format's rate against the same events published straight to
/// JetStream with the same window, acked and then stored by the sink; the slowest format is
/// the one judged.
fn import_targets(import: &ImportReport) -> Vec<Target> {
    let (acked, acked_ratio) = import.slowest(|f| f.acked_per_sec);
    let (stored, stored_ratio) = import.slowest(|f| f.stored_per_sec);
    vec![
        target(
            "import, each format: acked ≥ 0.5 of raw JetStream publish, same events and window",
            format!(
                "{acked_ratio:.2} (slowest: {} {:.0} events/s)",
                acked.format, acked.acked_per_sec
            ),
            acked_ratio >= 0.5,
        ),
        target(
            "import, each format: stored by the sink ≥ 0.8 of the raw publish stored",
            format!(
                "{stored_ratio:.2} (slowest: {} {:.0} events/s)",
                stored.format, stored.stored_per_sec
            ),
            stored_ratio >= 0.8,
        ),
    ]
}

/// The query targets: overview, trends and top values, funnel and retention, and what edge
/// adds to a call.
fn query_targets(queries: &QueryReport) -> Vec<Target> {
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
    vec![
        target(
            "overview p50 < 300 ms",
            format!("{:.0} ms (through edge)", query_p50("overview")),
            query_p50("overview") < 300.0,
        ),
        target(
            "trends and top values p50 < 300 ms",
            format!("{fast:.0} ms (slower of the two, through edge)"),
            fast < 300.0,
        ),
        target(
            "funnel and retention p50 < 1.5 s",
            format!("{slow:.0} ms (slower of the two, through edge)"),
            slow < 1_500.0,
        ),
        target(
            "query through edge ≤ 1.2 × the same SQL straight to ClickHouse",
            format!("{edge_ratio:.2} (worst call)"),
            edge_ratio <= 1.2,
        ),
    ]
}

/// The targets table's rows, in markdown.
pub(crate) fn markdown(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| {
            format!(
                "| {} | {} | {} |\n",
                t.target,
                t.measured,
                if t.holds { "yes" } else { "**no**" }
            )
        })
        .collect()
}
