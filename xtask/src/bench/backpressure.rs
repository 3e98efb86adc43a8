//! Backpressure a scenario met: the 503s (the stack's own, JetStream slow or full) and 429s
//! (edge's rate limit) it was answered, counted with when the first came and their rate, and
//! retried the way an SDK retries (PostHog's and Segment's do) instead of ending the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Retries of a request answered 503 or 429 before it counts as not sent.
pub(crate) const RETRIES: u32 = 5;
/// The pause before the first retry; it doubles for each next one (0.05 + 0.1 + 0.2 + 0.4 +
/// 0.8 s, 1.55 s in all), as an SDK backs off.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// A load that had nothing accepted for this long while requests were refused past their
/// retries meets a stack that stopped (a service behind edge gone answers 503 too), not one
/// pushing back: it ends with an error instead of refusing every request for minutes.
pub(crate) const STALLED: Duration = Duration::from_secs(30);

/// What a scenario's answers other than 2xx were.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Backpressure {
    /// Answers 503 Service Unavailable (each try counts).
    pub(crate) unavailable: u64,
    /// Answers 429 Too Many Requests (each try counts).
    pub(crate) too_many: u64,
    /// Other answers that are not 2xx (each ends the scenario).
    pub(crate) other: u64,
    /// Requests still answered 503 or 429 after `RETRIES` retries: not sent, their events not
    /// counted in any figure.
    pub(crate) not_sent: u64,
    /// Seconds into the scenario of the first 503 or 429; the earliest of its rounds.
    pub(crate) first_secs: Option<f64>,
    /// How long the scenario ran, seconds (all its rounds).
    pub(crate) elapsed_secs: f64,
}

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Accepted,
    /// 503 or 429: pause and send it again.
    Backpressure,
    /// Anything else: the scenario ends with an error.
    Refused,
}

impl Backpressure {
    /// Counts `status`, answered `at_secs` into the scenario; what to do with its request.
    pub(crate) fn record(&mut self, status: u16, at_secs: f64) -> Answer {
        match status {
            200..=299 => return Answer::Accepted,
            503 => self.unavailable += 1,
            429 => self.too_many += 1,
            _ => {
                self.other += 1;
                return Answer::Refused;
            }
        }
        self.first_secs = Some(self.first_secs.map_or(at_secs, |first| first.min(at_secs)));
        Answer::Backpressure
    }

    /// 503s and 429s together.
    pub(crate) fn answers(&self) -> u64 {
        self.unavailable + self.too_many
    }

    /// 503s and 429s per second of the scenario; 0 when it took no time.
    pub(crate) fn per_sec(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.answers() as f64 / self.elapsed_secs
        } else {
            0.0
        }
    }

    /// Two runs of a scenario (rounds) as one: counts and time added, the earliest first.
    pub(crate) fn merge(self, other: Self) -> Self {
        let first_secs = match (self.first_secs, other.first_secs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            unavailable: self.unavailable + other.unavailable,
            too_many: self.too_many + other.too_many,
            other: self.other + other.other,
            not_sent: self.not_sent + other.not_sent,
            first_secs,
            elapsed_secs: self.elapsed_secs + other.elapsed_secs,
        }
    }

    /// Every run of a scenario as one.
    pub(crate) fn sum(runs: impl IntoIterator<Item = Self>) -> Self {
        runs.into_iter().fold(Self::default(), Self::merge)
    }
}

/// The counts of one load, shared by its clients, and when it last had a request accepted
/// (ms into the load).
#[derive(Debug, Default)]
pub(crate) struct Counts(Mutex<Backpressure>, AtomicU64);

impl Counts {
    /// Counts `status`, answered `at` into the load.
    pub(crate) fn record(&self, status: u16, at: Duration) -> Answer {
        if (200..=299).contains(&status) {
            self.1.fetch_max(at.as_millis() as u64, Ordering::Relaxed);
            return Answer::Accepted;
        }
        self.lock().record(status, at.as_secs_f64())
    }

    /// Whether, `at` into the load, nothing was accepted for `STALLED`.
    pub(crate) fn stalled(&self, at: Duration) -> bool {
        at.saturating_sub(Duration::from_millis(self.1.load(Ordering::Relaxed))) >= STALLED
    }

    /// A request given up after its retries.
    pub(crate) fn not_sent(&self) {
        self.lock().not_sent += 1;
    }

    /// The counts of a load that took `elapsed`.
    pub(crate) fn finish(&self, elapsed: Duration) -> Backpressure {
        Backpressure {
            elapsed_secs: elapsed.as_secs_f64(),
            ..*self.lock()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backpressure> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_503_and_429_apart_from_other_refusals_with_the_first_and_the_rate() {
        let mut b = Backpressure::default();
        assert_eq!(b.record(200, 0.1), Answer::Accepted);
        assert_eq!(b.record(204, 0.2), Answer::Accepted);
        assert_eq!(b.record(503, 2.5), Answer::Backpressure);
        assert_eq!(b.record(503, 1.5), Answer::Backpressure);
        assert_eq!(b.record(429, 3.0), Answer::Backpressure);
        assert_eq!(b.record(400, 4.0), Answer::Refused);
        assert_eq!(b.record(500, 4.0), Answer::Refused);
        assert_eq!((b.unavailable, b.too_many, b.other), (2, 1, 2));
        assert_eq!(b.first_secs, Some(1.5));
        b.elapsed_secs = 6.0;
        assert_eq!(b.answers(), 3);
        assert!((b.per_sec() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn rounds_add_up_with_the_earliest_first_and_none_is_zero() {
        let quiet = Backpressure {
            elapsed_secs: 4.0,
            ..Backpressure::default()
        };
        assert_eq!(quiet.per_sec(), 0.0);
        assert_eq!(quiet.first_secs, None);
        let busy = Backpressure {
            unavailable: 6,
            too_many: 2,
            not_sent: 1,
            first_secs: Some(3.0),
            elapsed_secs: 4.0,
            ..Backpressure::default()
        };
        let later = Backpressure {
            unavailable: 2,
            first_secs: Some(1.0),
            ..quiet
        };
        let all = Backpressure::sum([quiet, busy, later]);
        assert_eq!((all.unavailable, all.too_many, all.not_sent), (8, 2, 1));
        assert_eq!(all.first_secs, Some(1.0));
        assert!((all.per_sec() - 10.0 / 12.0).abs() < 1e-9);
        assert_eq!(Backpressure::sum([]), Backpressure::default());
    }

    #[test]
    fn shared_counts_finish_with_the_load_time() {
        let counts = Counts::default();
        assert_eq!(counts.record(200, Duration::ZERO), Answer::Accepted);
        assert_eq!(
            counts.record(503, Duration::from_secs(2)),
            Answer::Backpressure
        );
        counts.not_sent();
        let b = counts.finish(Duration::from_secs(4));
        assert_eq!((b.unavailable, b.not_sent, b.first_secs), (1, 1, Some(2.0)));
        assert!((b.per_sec() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_load_is_stalled_after_thirty_seconds_with_nothing_accepted() {
        let counts = Counts::default();
        assert!(!counts.stalled(Duration::from_secs(29)));
        assert!(counts.stalled(Duration::from_secs(30)));
        counts.record(200, Duration::from_secs(40));
        counts.record(503, Duration::from_secs(60));
        assert!(!counts.stalled(Duration::from_secs(60)));
        assert!(counts.stalled(Duration::from_secs(70)));
    }
}
