//! What one load measured: events and requests per second and request latencies, the rounds of
//! the same load, and the percentile arithmetic every scenario shares.

use std::time::Duration;

use super::backpressure::Backpressure;

/// One measured load: events per second and request latencies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) events_per_sec: f64,
    pub(crate) requests_per_sec: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// The 503s and 429s it met; its other figures count accepted requests only.
    pub(crate) backpressure: Backpressure,
}

impl Load {
    /// The load of requests accepted after `latencies` each, `elapsed` in all.
    pub(crate) fn of(
        elapsed: Duration,
        mut latencies: Vec<Duration>,
        events_per_request: usize,
    ) -> Self {
        latencies.sort();
        let requests = latencies.len() as f64;
        Self {
            events_per_sec: requests * events_per_request as f64 / elapsed.as_secs_f64(),
            requests_per_sec: requests / elapsed.as_secs_f64(),
            p50_ms: percentile_ms(&latencies, 0.50),
            p99_ms: percentile_ms(&latencies, 0.99),
            backpressure: Backpressure::default(),
        }
    }
}

/// The same load measured in several rounds, slowest first by events/s.
#[derive(Debug, Clone)]
pub(crate) struct Rounds(pub(crate) Vec<Load>);

impl Rounds {
    /// The rounds in any order, sorted by events/s.
    pub(crate) fn of(mut loads: Vec<Load>) -> Self {
        loads.sort_by(|a, b| a.events_per_sec.total_cmp(&b.events_per_sec));
        Self(loads)
    }
    pub(crate) fn min(&self) -> Load {
        self.0[0]
    }
    /// The round with the median events/s (the lower middle one of an even count).
    pub(crate) fn median(&self) -> Load {
        self.0[(self.0.len() - 1) / 2]
    }
    pub(crate) fn max(&self) -> Load {
        self.0[self.0.len() - 1]
    }
    /// The 503s and 429s of every round together.
    pub(crate) fn backpressure(&self) -> Backpressure {
        Backpressure::sum(self.0.iter().map(|load| load.backpressure))
    }
}

/// A paced, open-loop load: requests sent on a fixed schedule whatever the answers take;
/// latency counts from the scheduled send, so a stall is not hidden by sending less.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paced {
    pub(crate) target_events_per_sec: f64,
    pub(crate) load: Load,
}

/// The `quantile` of `sorted` durations, in milliseconds; 0 for none.
pub(crate) fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// `a / b`, or 0 when `b` is not positive (a limit that measured nothing).
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
