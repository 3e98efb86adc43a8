//! What a period of the overview adds up to, and the figures it names.

/// What a period adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) events: u64,
    pub(crate) users: u64,
    pub(crate) pageviews: u64,
    pub(crate) sessions: u64,
    /// Sessions of a single event.
    pub(crate) bounced: u64,
    /// Seconds from each session's first event to its last, summed.
    pub(crate) seconds: u64,
}

impl Totals {
    /// The figures the overview names.
    pub(crate) fn figures(&self) -> Vec<(&'static str, f64)> {
        // Per session, 0 when there is none.
        let per_session = |amount: u64| {
            if self.sessions == 0 {
                0.0
            } else {
                amount as f64 / self.sessions as f64
            }
        };
        vec![
            ("events", self.events as f64),
            ("users", self.users as f64),
            ("sessions", self.sessions as f64),
            ("pageviews", self.pageviews as f64),
            ("bounce_rate", per_session(self.bounced)),
            ("avg_session_seconds", per_session(self.seconds)),
            ("pages_per_session", per_session(self.pageviews)),
        ]
    }
}
