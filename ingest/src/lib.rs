//! HTTP event intake: accepts events (native API and SDK wire formats) and publishes each one to
//! the JetStream `EVENTS` stream, answering 2xx only after the PubAck.

pub mod api;
pub mod body;
pub mod cookieless;
pub mod enrich;
pub mod posthog;
pub mod quota;
pub mod segment;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use plumbing::config::{ConfigError, HttpConfig, NatsConfig, var_or};
use plumbing::forwarded::TrustedProxies;
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::net::TcpListener;

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "ingest";

/// Everything ingest reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener (`INGEST_PORT`, default 8001).
    pub http: HttpConfig,
    /// JetStream server.
    pub nats: NatsConfig,
    /// Where auth publishes its keys, and what tokens must say, for `POST /api/events`
    /// (`AUTH_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`).
    pub auth: AuthConfig,
    /// Peers trusted to name the client in `X-Forwarded-For` (`TRUSTED_PROXIES`, default
    /// `127.0.0.1,::1`: an edge on the same host). The client address feeds the anonymised IP
    /// and the cookieless visitor hash.
    pub trusted_proxies: TrustedProxies,
    /// What each project may store a second, and each dashboard user send (see [`quota`]).
    pub quotas: quota::QuotaConfig,
}

pub use plumbing::jwt::AuthConfig;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("INGEST_PORT", 8001)?,
            nats: NatsConfig::from_env()?,
            auth: AuthConfig::from_env()?,
            trusted_proxies: var_or("TRUSTED_PROXIES", TrustedProxies::local())?,
            quotas: quota::QuotaConfig::from_env()?,
        })
    }

    /// Defaults for everything but where things are: for tests and tools.
    pub fn new(http: HttpConfig, nats: NatsConfig, auth: AuthConfig) -> Self {
        Self {
            http,
            nats,
            auth,
            trusted_proxies: TrustedProxies::local(),
            quotas: quota::QuotaConfig::default(),
        }
    }
}

/// Ingest's own metrics.
#[derive(Debug, Clone)]
pub struct IngestMetrics {
    /// `ingest_events_total{route, result}`: events received, by wire format and outcome.
    pub events: Family<Vec<(&'static str, String)>, Counter>,
}

/// Shared state of the request handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub jetstream: JetStream,
    /// Publishes events: a context that refuses a publish beyond its in-flight acks limit
    /// instead of waiting, so a request can free its own (see `api::publish`).
    pub publisher: async_nats::jetstream::Context,
    /// Write key -> project, followed from the `AUTH` stream.
    pub write_keys: plumbing::projects::Projects,
    /// Verifies the bearer tokens of `POST /api/events`.
    pub tokens: Arc<plumbing::jwt::JwksVerifier>,
    pub metrics: IngestMetrics,
    pub trusted_proxies: TrustedProxies,
    /// The intake quotas' buckets.
    pub quotas: Arc<quota::Quotas>,
    /// The daily salts of cookieless visitor ids.
    pub salts: cookieless::Salts,
}

/// Serves ingest on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let ingest_metrics = IngestMetrics {
        events: Family::default(),
    };
    // Every series from the start, so rates and alerts see zeros rather than gaps.
    for route in api::ROUTES_COUNTED {
        for result in api::RESULTS_COUNTED {
            let _ = ingest_metrics.events.get_or_create(&vec![
                ("route", (*route).to_owned()),
                ("result", (*result).to_owned()),
            ]);
        }
    }
    metrics.register(
        "events",
        "Events received, by route (the wire format) and result",
        ingest_metrics.events.clone(),
    );
    let jetstream = JetStream::start(
        &config.nats.url,
        SERVICE,
        Definitions::for_service(plumbing::streams::Service::Ingest)?,
    )
    .await?;
    let write_keys = plumbing::projects::Projects::follow(jetstream.context.clone());
    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check("write_keys", write_keys.readiness_check());
    let tokens = Arc::new(config.auth.verifier());
    let publisher = api::publisher(&jetstream.client);
    let salts = cookieless::Salts::new(jetstream.context.clone());
    let state = AppState {
        jetstream,
        publisher,
        write_keys,
        tokens,
        metrics: ingest_metrics,
        trusted_proxies: config.trusted_proxies.clone(),
        quotas: Arc::new(quota::Quotas::new(config.quotas.clone())),
        salts,
    };
    plumbing::http::run_service(
        listener,
        router(state),
        health,
        metrics,
        &config.http,
        shutdown,
    )
    .await?;
    Ok(())
}

/// The intake routes.
pub fn router(state: AppState) -> Router {
    api::router(state)
}
