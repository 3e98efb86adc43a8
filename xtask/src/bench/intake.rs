//! The ingest scenarios: 100-event batches and single events through edge, straight to ingest,
//! and published raw to JetStream (the limit), in rounds; single events paced at half the rate,
//! right after those rounds and once the duplicate window has passed; events/s by events per
//! request; and the CPU each process spends per event.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use devstack::process::Process;

use super::backpressure::Backpressure;
use super::load::{Load, Paced, Rounds};
use super::send::{CLIENTS, SINGLE_CLIENTS, http_load, own_cpu_seconds, paced_load, pageviews};
use super::send::{posthog_body, raw_load};
use super::services::cpu_seconds;

/// Where the load goes and whose CPU it costs.
pub(crate) struct Target<'a> {
    pub(crate) js: &'a jetstream::Context,
    /// PostHog's `/batch/` through edge.
    pub(crate) url: String,
    /// The same straight to ingest.
    pub(crate) direct: String,
    pub(crate) edge: &'a Process,
    pub(crate) ingest: &'a Process,
    pub(crate) nats: &'a Process,
}

impl Target<'_> {
    /// CPU seconds used so far by edge, ingest, nats-server and the load generator.
    fn sample(&self) -> [f64; 4] {
        [
            cpu_seconds(self.edge),
            cpu_seconds(self.ingest),
            cpu_seconds(self.nats),
            own_cpu_seconds(),
        ]
    }
}

/// How much each scenario sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// 100-event requests per round.
    pub(crate) batches: usize,
    /// Single-event requests per round.
    pub(crate) singles: usize,
    pub(crate) rounds: usize,
    paced_secs: u64,
    quick: bool,
}

impl Plan {
    pub(crate) fn new(quick: bool) -> Self {
        // Three rounds in either run, so the median is the middle one, not the slower of two.
        let (batches, singles, rounds, paced_secs) = if quick {
            (1_000, 10_000, 3, 4)
        } else {
            (5_000, 40_000, 3, 10)
        };
        Self {
            batches,
            singles,
            rounds,
            paced_secs,
            quick,
        }
    }
}

/// Everything this module measures.
#[derive(Debug)]
pub(crate) struct IntakeReport {
    pub(crate) rounds: usize,
    /// 100-event batches through edge, then straight to ingest, then the raw limit.
    pub(crate) batch_edge: Rounds,
    pub(crate) batch: Rounds,
    pub(crate) raw_batch: Rounds,
    /// Single events from `SINGLE_CLIENTS` clients through edge, then straight to ingest,
    /// then the raw limit with as many publishing tasks.
    pub(crate) single_edge: Rounds,
    pub(crate) single: Rounds,
    pub(crate) raw_single: Rounds,
    /// Single events from `CLIENTS` clients through edge.
    pub(crate) single_edge_few: Rounds,
    /// Single events through edge at half the median single-event rate through edge, once the
    /// duplicate window has passed since the rounds at the full rate: what a steady half rate
    /// meets.
    pub(crate) half_rate: Vec<Paced>,
    /// One round of the same right after the rounds at the full rate, whose ids the duplicate
    /// window still holds: what the same rate meets just after a burst.
    pub(crate) after_burst: Paced,
    /// Events/s through edge by events per request.
    pub(crate) by_batch_size: Vec<(usize, Load)>,
    /// CPU µs per request while single events went through edge: edge, ingest, nats-server,
    /// the load generator.
    pub(crate) single_cpu_us: [f64; 4],
}

/// The loads of every round, in the order they ran.
#[derive(Default)]
struct Measured {
    batch_edge: Vec<Load>,
    batch: Vec<Load>,
    raw_batch: Vec<Load>,
    single_edge: Vec<Load>,
    single: Vec<Load>,
    raw_single: Vec<Load>,
    single_edge_few: Vec<Load>,
    /// What the single events through edge cost each process, CPU seconds.
    single_cpu_seconds: [f64; 4],
}

/// The scenarios in order: a warm-up, the rounds, the paced rounds, the batch-size sweep.
pub(crate) async fn run(plan: Plan, target: &Target<'_>) -> anyhow::Result<IntakeReport> {
    let Plan {
        batches, rounds, ..
    } = plan;
    eprintln!("ingest: warm-up");
    http_load(&target.url, pageviews(batches / 10, 100), 100, CLIENTS).await?;
    http_load(&target.direct, pageviews(batches / 10, 100), 100, CLIENTS).await?;
    raw_load(target.js, batches / 10, 100, CLIENTS).await?;
    let mut measured = Measured::default();
    for round in 1..=rounds {
        measure_round(plan, target, round, &mut measured).await?;
    }
    let single_edge = Rounds::of(measured.single_edge);
    let single_cpu_us = measured
        .single_cpu_seconds
        .map(|seconds| seconds * 1e6 / (rounds * plan.singles) as f64);
    eprintln!(
        "ingest: CPU µs per single-event request through edge: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}",
        single_cpu_us[0], single_cpu_us[1], single_cpu_us[2], single_cpu_us[3]
    );
    let half = single_edge.median().requests_per_sec / 2.0;
    let burst_ended = Instant::now();
    let after_burst = paced(plan, target, half, "right after the rounds").await?;
    wait_out_the_window(target.js, burst_ended).await?;
    let half_rate = half_rate(plan, target, half).await?;
    let by_batch_size = by_batch_size(plan, target).await?;
    Ok(IntakeReport {
        rounds,
        batch_edge: Rounds::of(measured.batch_edge),
        batch: Rounds::of(measured.batch),
        raw_batch: Rounds::of(measured.raw_batch),
        single_edge,
        single: Rounds::of(measured.single),
        raw_single: Rounds::of(measured.raw_single),
        single_edge_few: Rounds::of(measured.single_edge_few),
        half_rate,
        after_burst,
        by_batch_size,
        single_cpu_us,
    })
}

/// One round of every closed-loop load, through edge, direct and raw.
async fn measure_round(
    plan: Plan,
    target: &Target<'_>,
    round: usize,
    measured: &mut Measured,
) -> anyhow::Result<()> {
    let Plan {
        batches,
        singles,
        rounds,
        ..
    } = plan;
    let (url, direct) = (target.url.as_str(), target.direct.as_str());
    eprintln!(
        "ingest round {round}/{rounds}: {batches} requests of 100 events, {CLIENTS} clients, through edge, direct, raw"
    );
    let m = measured;
    m.batch_edge
        .push(http_load(url, pageviews(batches, 100), 100, CLIENTS).await?);
    m.batch
        .push(http_load(direct, pageviews(batches, 100), 100, CLIENTS).await?);
    m.raw_batch
        .push(raw_load(target.js, batches, 100, CLIENTS).await?);
    eprintln!(
        "ingest round {round}/{rounds}: {singles} single-event requests, through edge, direct, raw"
    );
    // The bodies are written before the clock starts: the load generator's CPU is what
    // sending them costs.
    let requests = pageviews(singles, 1);
    let before = target.sample();
    m.single_edge
        .push(http_load(url, requests, 1, SINGLE_CLIENTS).await?);
    for ((spent, now), then) in m
        .single_cpu_seconds
        .iter_mut()
        .zip(target.sample())
        .zip(before)
    {
        *spent += now - then;
    }
    m.single
        .push(http_load(direct, pageviews(singles, 1), 1, SINGLE_CLIENTS).await?);
    m.raw_single
        .push(raw_load(target.js, singles, 1, SINGLE_CLIENTS).await?);
    m.single_edge_few
        .push(http_load(url, pageviews(singles, 1), 1, CLIENTS).await?);
    Ok(())
}

/// Waits until the duplicate window of `EVENTS` has passed since `burst_ended`: nats-server then
/// no longer holds the ids of the rounds at the full rate (millions in the full run, about 125
/// bytes each), whose collection at its memory limit is what the paced rounds met right after
/// them (a p99 of 114 ms in a quick run, against 4.1 ms once the window had passed).
async fn wait_out_the_window(js: &jetstream::Context, burst_ended: Instant) -> anyhow::Result<()> {
    let window = js
        .get_stream("EVENTS")
        .await?
        .info()
        .await?
        .config
        .duplicate_window;
    // A little past the window: nats-server expires ids on a timer, not at the instant.
    let until = burst_ended + window + Duration::from_secs(2);
    eprintln!(
        "ingest: waiting {:.0} s, until the duplicate window ({} s) has passed since the rounds",
        until
            .saturating_duration_since(Instant::now())
            .as_secs_f64(),
        window.as_secs()
    );
    tokio::time::sleep_until(until.into()).await;
    Ok(())
}

/// Single events through edge paced at `half` requests/s, in each round.
async fn half_rate(plan: Plan, target: &Target<'_>, half: f64) -> anyhow::Result<Vec<Paced>> {
    let mut half_rate = Vec::new();
    for round in 1..=plan.rounds {
        let name = format!("round {round}/{}", plan.rounds);
        half_rate.push(paced(plan, target, half, &name).await?);
    }
    Ok(half_rate)
}

/// One round of single events through edge paced at `half` requests/s.
async fn paced(plan: Plan, target: &Target<'_>, half: f64, name: &str) -> anyhow::Result<Paced> {
    let secs = plan.paced_secs;
    eprintln!("ingest {name}: single events through edge paced at {half:.0}/s for {secs} s");
    let load = paced_load(&target.url, half, Duration::from_secs(secs), 1, |_| {
        posthog_body(1, "$pageview")
    })
    .await?;
    Ok(Paced {
        target_events_per_sec: half,
        load: load.load,
    })
}

/// Events/s through edge by events per request, one round each.
async fn by_batch_size(plan: Plan, target: &Target<'_>) -> anyhow::Result<Vec<(usize, Load)>> {
    let events_per_point = if plan.quick { 50_000 } else { 150_000 };
    let sizes: &[usize] = if plan.quick {
        &[1, 10, 50, 100, 250, 500]
    } else {
        &[1, 10, 50, 100, 250, 500, 1_000]
    };
    // Each size into an emptied stream, so none is measured against millions of messages the
    // rounds above left (the sink is not draining them yet).
    let mut by_batch_size = Vec::new();
    for &size in sizes {
        empty_the_log(target.js).await?;
        let requests = (events_per_point / size).min(plan.singles);
        eprintln!("ingest: {requests} requests of {size} events through edge");
        match http_load(&target.url, pageviews(requests, size), size, CLIENTS).await {
            Ok(load) => by_batch_size.push((size, load)),
            // A size that fails is left out of the chart and named here, not the end of the run.
            Err(err) => eprintln!("ingest: {size} events per request failed: {err:#}"),
        }
    }
    Ok(by_batch_size)
}

/// What the sink drains: one more load of 100-event batches through edge (as many as a round,
/// or more to make a dozen of the sink's batches), into an emptied stream, with the CPU each
/// process spent on it. The rows stored, CPU µs per event of edge, ingest, nats-server and the
/// load generator, and the 503s and 429s the load met.
pub(crate) async fn fill_for_sink(
    plan: Plan,
    target: &Target<'_>,
) -> anyhow::Result<(usize, [f64; 4], Backpressure)> {
    // The raw streams give their storage back, for the services started afterwards.
    target.js.delete_stream("BENCH_RAW").await?;
    target.js.delete_stream("BENCH_RAW_HISTORY").await?;
    empty_the_log(target.js).await?;
    // At least 12 of the sink's batches, so that its first and last (and the read-ahead
    // between) are a small part of the drain: 240 000 rows in the quick run.
    let batches = plan
        .batches
        .max((12 * super::sink::batch_size()).div_ceil(100));
    eprintln!("pipeline: {batches} requests of 100 events through edge, for the sink");
    let requests = pageviews(batches, 100);
    let before = target.sample();
    let load = http_load(&target.url, requests, 100, CLIENTS).await?;
    let after = target.sample();
    let rows = target
        .js
        .get_stream("EVENTS")
        .await?
        .info()
        .await?
        .state
        .messages as usize;
    let ingest_cpu_us: [f64; 4] =
        std::array::from_fn(|i| (after[i] - before[i]) * 1e6 / rows as f64);
    eprintln!(
        "ingest: CPU µs per event: edge {:.1}, ingest {:.1}, nats-server {:.1}, load generator {:.1}",
        ingest_cpu_us[0], ingest_cpu_us[1], ingest_cpu_us[2], ingest_cpu_us[3]
    );
    Ok((rows, ingest_cpu_us, load.backpressure))
}

/// The raw limit publishes to a stream of its own, configured like EVENTS but keeping what it
/// takes (EVENTS keeps its messages for the sink's consumer; with no consumer an interest
/// stream would store nothing), and a history sourced from it, as EVENTS_HISTORY is from
/// EVENTS: nats-server copies every event it takes, for the raw limit too.
pub(crate) async fn create_raw_streams(js: &jetstream::Context) -> anyhow::Result<()> {
    let mut raw_config = js.get_stream("EVENTS").await?.info().await?.config.clone();
    raw_config.name = "BENCH_RAW".to_owned();
    raw_config.subjects = vec!["bench.>".to_owned()];
    raw_config.retention = jetstream::stream::RetentionPolicy::Limits;
    // JetStream reserves every stream's byte limit in its store (20 GB here, with EVENTS and
    // its history holding 14): the raw streams take what the rounds need.
    raw_config.max_bytes = 3 << 30;
    js.create_stream(raw_config).await?;
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
    Ok(())
}

/// Empties `EVENTS` and its history, so a round is not measured against what the rounds before
/// left (and the history does not fill the disk with the bench's millions of events).
pub(crate) async fn empty_the_log(js: &jetstream::Context) -> anyhow::Result<()> {
    js.get_stream("EVENTS").await?.purge().await?;
    js.get_stream("EVENTS_HISTORY").await?.purge().await?;
    Ok(())
}
