//! HTTP event intake: accepts events (native API and SDK wire formats) and publishes each one to
//! the JetStream `EVENTS` stream, answering 2xx only after the PubAck.
//!
//! Imports run one way: [`routes`] (HTTP) use the domain modules ([`wire`], [`enrich`],
//! [`publish`], [`body`], [`json`]), which know nothing about HTTP, and those use `contract`.
//! [`import`] reads other products' exports and maps their records with the same modules, for
//! `cargo xtask import` and for the imports API, whose jobs a worker in every ingest runs.

mod body;
pub mod enrich;
mod error;
mod extract;
pub mod import;
mod json;
mod openapi;
mod publish;
mod routes;
mod state;
mod wire;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use plumbing::config::{ConfigError, HttpConfig, NatsConfig, var_or};
use plumbing::forwarded::TrustedProxies;
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use tokio::net::TcpListener;

pub use enrich::geo::GeoIp;
pub use import::jobs::ImportConfig;
pub use plumbing::jwt::AuthConfig;
pub use publish::quota::QuotaConfig;

use crate::enrich::visitor::Salts;
use crate::publish::quota::Quotas;
use crate::state::{AppState, IngestMetrics};

/// Service name, in logs, metric names and `/readyz`.
const SERVICE: &str = "ingest";

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
    pub quotas: QuotaConfig,
    /// The GeoIP databases client addresses are looked up in (`GEOIP_DB`: MaxMind DB files,
    /// comma separated, read at start); `None`: events get no country, region or city.
    pub geoip: Option<GeoIp>,
    /// Imports of uploaded files (`IMPORT_MAX_BYTES`, default 1 GiB).
    pub imports: ImportConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("INGEST_PORT", 8001)?,
            nats: NatsConfig::from_env()?,
            auth: AuthConfig::from_env()?,
            trusted_proxies: var_or("TRUSTED_PROXIES", TrustedProxies::local())?,
            quotas: QuotaConfig::from_env()?,
            geoip: GeoIp::from_env()?,
            imports: ImportConfig {
                max_bytes: var_or("IMPORT_MAX_BYTES", contract::imports::MAX_IMPORT_BYTES)?,
                events_per_second: var_or("IMPORT_TEST_EVENTS_PER_SECOND", 0_u32)
                    .map(|rate| Some(rate).filter(|rate| *rate > 0))?,
                ..ImportConfig::default()
            },
        })
    }

    /// Defaults for everything but where things are: for tests and tools.
    pub fn new(http: HttpConfig, nats: NatsConfig, auth: AuthConfig) -> Self {
        Self {
            http,
            nats,
            auth,
            trusted_proxies: TrustedProxies::local(),
            quotas: QuotaConfig::default(),
            geoip: None,
            imports: ImportConfig::default(),
        }
    }
}

/// Serves ingest on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let ingest_metrics = IngestMetrics::register(&metrics);
    let jetstream = JetStream::start(
        &config.nats.url,
        SERVICE,
        Definitions::for_service(plumbing::streams::Service::Ingest, config.nats.replicas)?,
    )
    .await?;
    let write_keys = plumbing::projects::Projects::follow(jetstream.context.clone());
    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check("write_keys", write_keys.readiness_check());
    match &config.geoip {
        Some(geoip) => tracing::info!(databases = ?geoip, "locating client addresses"),
        None => tracing::info!("GEOIP_DB is not set: events get no country, region or city"),
    }
    let imports = import::jobs::Jobs::new(
        jetstream.context.clone(),
        config.imports.clone(),
        config.nats.replicas,
        &metrics,
    );
    // Told to stop when ingest stops: the job it runs is saved where it stands and let go, for
    // the next worker to take up from there at once (aborted if that takes too long).
    let (stop_worker, stop) = tokio::sync::watch::channel(false);
    let mut worker = AbortOnDrop(tokio::spawn(import::jobs::worker::work(
        imports.clone(),
        jetstream.client.clone(),
        stop,
    )));
    let state = AppState {
        publisher: publish::jetstream::publisher(&jetstream.client),
        salts: Salts::new(jetstream.context.clone()).replicated(config.nats.replicas),
        jetstream,
        write_keys,
        tokens: Arc::new(config.auth.verifier()),
        metrics: ingest_metrics,
        trusted_proxies: config.trusted_proxies.clone(),
        quotas: Arc::new(Quotas::new(config.quotas.clone())),
        geoip: config.geoip.clone(),
        imports,
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
    let _ = stop_worker.send(true);
    let _ = tokio::time::timeout(WORKER_STOPS_IN, &mut worker.0).await;
    drop(worker);
    Ok(())
}

/// How long ingest waits, stopping, for the import worker to let its job go.
const WORKER_STOPS_IN: std::time::Duration = std::time::Duration::from_secs(5);

/// A task aborted when this is dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The intake routes: the SDK routes with CORS, the dashboard's without, and the OpenAPI
/// document.
fn router(state: AppState) -> Router {
    let sdk = Router::new()
        .merge(routes::posthog::routes())
        .merge(routes::segment::routes())
        .merge(routes::script::routes())
        .layer(axum::middleware::from_fn(routes::cors::mirror_cors));
    sdk.merge(routes::events::routes())
        .merge(routes::imports::routes())
        .with_state(Arc::new(state))
        .merge(plumbing::http::openapi_route(&openapi::openapi()))
}
