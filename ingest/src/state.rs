//! What the request handlers share: [`AppState`], built once in `run`, and ingest's own
//! metrics.

use std::sync::Arc;

use plumbing::forwarded::TrustedProxies;
use plumbing::metrics::Metrics;
use plumbing::streams::JetStream;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::enrich::geo::GeoIp;
use crate::enrich::visitor::Salts;
use crate::import::jobs::Jobs;
use crate::publish::quota::Quotas;

/// Shared state of the request handlers.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) jetstream: JetStream,
    /// Publishes events: a context that refuses a publish beyond its in-flight acks limit
    /// instead of waiting, so a request can free its own (see
    /// [`crate::publish::jetstream::publish`]).
    pub(crate) publisher: async_nats::jetstream::Context,
    /// Write key -> project, followed from the `AUTH` stream.
    pub(crate) write_keys: plumbing::projects::Projects,
    /// Verifies the bearer tokens of `POST /api/events`.
    pub(crate) tokens: Arc<plumbing::jwt::JwksVerifier>,
    pub(crate) metrics: IngestMetrics,
    pub(crate) trusted_proxies: TrustedProxies,
    /// The intake quotas' buckets.
    pub(crate) quotas: Arc<Quotas>,
    /// The daily salts of cookieless visitor ids.
    pub(crate) salts: Salts,
    /// Where client addresses are, when a database was configured.
    pub(crate) geoip: Option<GeoIp>,
    /// The imports of uploaded export files.
    pub(crate) imports: Jobs,
}

/// The `route` label values of `ingest_events_total`: the wire formats.
const ROUTES_COUNTED: &[&str] = &["posthog", "segment", "plausible", "umami", "native"];

/// The `result` label values of `ingest_events_total`: `over_quota` counts the valid events of
/// requests refused by an intake quota.
const RESULTS_COUNTED: &[&str] = &["accepted", "rejected", "over_quota", "unavailable"];

/// Ingest's own metrics.
#[derive(Debug, Clone)]
pub(crate) struct IngestMetrics {
    /// `ingest_events_total{route, result}`: events received, by wire format and outcome.
    events: Family<Vec<(&'static str, String)>, Counter>,
}

impl IngestMetrics {
    /// Ingest's metrics, registered with the service's.
    pub(crate) fn register(metrics: &Metrics) -> Self {
        let events = Family::<Vec<(&'static str, String)>, Counter>::default();
        // Every series from the start, so rates and alerts see zeros rather than gaps.
        for route in ROUTES_COUNTED {
            for result in RESULTS_COUNTED {
                let _ = events.get_or_create(&vec![
                    ("route", (*route).to_owned()),
                    ("result", (*result).to_owned()),
                ]);
            }
        }
        metrics.register(
            "events",
            "Events received, by route (the wire format) and result",
            events.clone(),
        );
        Self { events }
    }

    /// Counts `n` events of `route` with `result`.
    pub(crate) fn count(&self, route: &'static str, result: &str, n: usize) {
        // Every series exists from the start: adding nothing changes nothing.
        if n == 0 {
            return;
        }
        self.events
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("result", result.to_owned()),
            ])
            .inc_by(n as u64);
    }
}
