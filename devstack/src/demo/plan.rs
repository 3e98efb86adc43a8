//! What the demo makes up (`Plan`), where and how it sends it (`Options`), and the limits both
//! keep to.

use std::fmt;

/// The shop funnel, in order: the same event names the product's own dashboard sends.
pub const FUNNEL: [&str; 4] = [
    "product_viewed",
    "add_to_cart",
    "checkout_started",
    "order_completed",
];

/// Most events PostHog's route takes in one request (`ingest::posthog::MAX_EVENTS`).
pub const MAX_BATCH_EVENTS: usize = 1000;

/// What traffic to make up.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// How far back the history goes.
    pub days: u32,
    /// Distinct visitors over the whole history.
    pub visitors: u32,
    /// Everything random follows from it.
    pub seed: u64,
    /// Share of visitors who come back on a later day.
    pub returning_share: f64,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            days: 28,
            visitors: 1500,
            seed: 1,
            returning_share: 0.35,
        }
    }
}

/// Where and how to send the traffic.
#[derive(Clone)]
pub struct Options {
    /// Edge's base URL, without a trailing slash.
    pub url: String,
    /// The admin whose session reads (or issues) the built-in project's write key.
    pub email: String,
    /// The admin's password; never printed (see the `Debug` below).
    pub password: String,
    pub plan: Plan,
    /// Events per request.
    pub batch_size: usize,
    /// A progress line on stderr while sending.
    pub progress: bool,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("url", &self.url)
            .field("email", &self.email)
            .field("password", &"***")
            .field("plan", &self.plan)
            .field("batch_size", &self.batch_size)
            .field("progress", &self.progress)
            .finish()
    }
}
