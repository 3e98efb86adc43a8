//! What every route shares, built in one place when the service starts (`run`).

use std::sync::Arc;

use plumbing::jwt::JwksVerifier;
use plumbing::projects::Projects;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::store::Store;

/// `query_queries_total{result}`.
pub(crate) type Outcomes = Family<Vec<(&'static str, String)>, Counter>;

/// What every route shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    /// For the live feed and the stream figures.
    pub(crate) nats: async_nats::Client,
    pub(crate) projects: Projects,
    pub(crate) tokens: Arc<JwksVerifier>,
    pub(crate) queries: Outcomes,
    /// The overview's figures per day, kept between requests.
    pub(crate) days: crate::overview::DayCache,
    /// The trends' figures per day, kept between requests.
    pub(crate) trend_days: crate::trends::TrendDays,
    /// The top values' figures per day, kept between requests.
    pub(crate) top_days: crate::top::TopDays,
    /// When each API key's use was last told to auth.
    pub(crate) key_usage: crate::access::KeyUsage,
    /// The shared links' passwords given lately.
    pub(crate) unlocked: crate::shared::Unlocked,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Counts one analytics query by its `result`: `ok`, `invalid` or `failed`.
    pub(crate) fn count(&self, result: &str) {
        self.queries
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }
}
