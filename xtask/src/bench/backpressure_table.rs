//! The report's "Backpressure" table: the 503s and 429s each sending scenario met (ingest's
//! loads, freshness, each query call), 0 included, in the JSON and the markdown.

use serde_json::{Value, json};

use super::backpressure::{Backpressure, FIRST_PAUSE, RETRIES, STALLED};
use super::pipeline::PipelineReport;
use super::queries::QueryReport;
use super::send::CLIENTS;

/// Each scenario that sends requests, in the order it ran, with what it met.
pub(crate) fn rows(p: &PipelineReport, q: &QueryReport) -> Vec<(String, Backpressure)> {
    let i = &p.intake;
    let mut rows = vec![
        (
            "100-event batches through edge".to_owned(),
            i.batch_edge.backpressure(),
        ),
        (
            "100-event batches straight to ingest".to_owned(),
            i.batch.backpressure(),
        ),
        (
            "single events through edge".to_owned(),
            i.single_edge.backpressure(),
        ),
        (
            "single events straight to ingest".to_owned(),
            i.single.backpressure(),
        ),
        (
            format!("single events through edge, {CLIENTS} clients"),
            i.single_edge_few.backpressure(),
        ),
        (
            "single events through edge, paced at half the median rate, right after the rounds"
                .to_owned(),
            i.after_burst.load.backpressure,
        ),
        (
            "single events through edge, paced at half the median rate, once the duplicate window had passed"
                .to_owned(),
            Backpressure::sum(i.half_rate.iter().map(|paced| paced.load.backpressure)),
        ),
    ];
    rows.extend(i.by_batch_size.iter().map(|(size, load)| {
        (
            format!("{size} events per request through edge"),
            load.backpressure,
        )
    }));
    rows.push((
        "100-event batches through edge, for the sink".to_owned(),
        p.fill_backpressure,
    ));
    rows.extend(
        ["straight to one ingest", "split over two ingests"]
            .into_iter()
            .zip(p.scaling.backpressure)
            .map(|(to, b)| (format!("scaling: 100-event batches {to}"), b)),
    );
    rows.push((
        "freshness: 10-event requests through edge, paced".to_owned(),
        p.freshness.backpressure,
    ));
    rows.extend(q.scenarios.iter().map(|s| {
        (
            format!("query {}, through edge and query", s.name),
            s.backpressure,
        )
    }));
    rows
}

/// What the bench does with a 503 or 429, in words.
fn policy() -> String {
    format!(
        "A request answered 503 or 429 is sent again after {} ms, the pause doubling each time, \
up to {RETRIES} retries (as the PostHog and Segment SDKs retry); still refused then, it counts as \
not sent. Every other figure counts accepted requests only; any other answer that is not 2xx ends \
the run, and so do {} s with nothing accepted (a stack that stopped, not one pushing back)",
        FIRST_PAUSE.as_millis(),
        STALLED.as_secs()
    )
}

pub(crate) fn json(p: &PipelineReport, q: &QueryReport) -> Value {
    let scenarios: Vec<Value> = rows(p, q)
        .iter()
        .map(|(name, b)| {
            json!({
                "scenario": name,
                "503": b.unavailable,
                "429": b.too_many,
                "other_non_2xx": b.other,
                "not_sent": b.not_sent,
                "first_secs": b.first_secs,
                "per_sec": b.per_sec(),
                "elapsed_secs": b.elapsed_secs,
            })
        })
        .collect();
    json!({ "policy": policy(), "scenarios": scenarios })
}

pub(crate) fn markdown(p: &PipelineReport, q: &QueryReport) -> String {
    let rows: String = rows(p, q)
        .iter()
        .map(|(name, b)| {
            format!(
                "| {name} | {} | {} | {} | {:.2} | {} |\n",
                b.unavailable,
                b.too_many,
                b.first_secs
                    .map_or_else(|| "—".to_owned(), |s| format!("{s:.1} s")),
                b.per_sec(),
                b.not_sent,
            )
        })
        .collect();
    format!(
        "## Backpressure (503: the stack's own, JetStream slow or full; 429: edge's rate limit)\n\n\
Each answer counts, retries included; first is seconds into the scenario (the earliest of its \
rounds), the rate is per second of the scenario (all its rounds). {}.\n\n\
| scenario | 503 | 429 | first | per second | not sent |\n|---|---|---|---|---|---|\n{rows}\n",
        policy()
    )
}
