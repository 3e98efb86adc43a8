//! Query: the analytics API over ClickHouse (trends, breakdowns, funnels, retention, explorer)
//! and the live feed from NATS.
//!
//! Imports run one way: `routes` (HTTP: extractors, typed parameters, answers) → the domain
//! modules, one per analysis with its SQL (`overview`, `trends`, `top`, `catalog`, `events`,
//! `funnel`, `retention`, `live`, `system`) → `scope`, `params`, `store` → `contract`. Only
//! `openapi` and this file read `routes`; nothing reads the router.

mod access;
mod catalog;
mod csv;
mod engagement;
mod erasure;
mod error;
mod events;
mod export;
mod extract;
mod funnel;
mod live;
mod openapi;
mod overview;
mod params;
mod persons;
mod pieces;
mod retention;
mod routes;
mod scope;
mod sessions;
mod shared;
mod state;
mod store;
mod system;
mod top;
mod trends;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{delete, get, post};
use plumbing::config::{ClickHouseConfig, ConfigError, HttpConfig, NatsConfig};
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use tokio::net::TcpListener;

use crate::state::{AppState, Outcomes};
use crate::store::Store;

/// The statements of the pipeline figures, which the tests run on current ClickHouse too.
pub use crate::system::{CLUSTER_EVENTS_PARTS, EVENTS_PARTS};

/// Service name, in logs, metric names and `/readyz`.
pub(crate) const SERVICE: &str = "query";

/// Everything query reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener (`QUERY_PORT`, default 8003).
    pub http: HttpConfig,
    /// Source of the live feed.
    pub nats: NatsConfig,
    /// Where events are read.
    pub clickhouse: ClickHouseConfig,
    /// Whose tokens are accepted.
    pub auth: plumbing::jwt::AuthConfig,
    /// Limits of every ClickHouse query.
    pub limits: Limits,
    /// `QUERY_SQL_LOG`: a file every statement is appended to, values bound (for checking the
    /// SQL on another ClickHouse version, or for debugging); unset: none.
    pub sql_log: Option<std::path::PathBuf>,
}

/// What one query may spend.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `QUERY_TIMEOUT_SECONDS` (default 10): ClickHouse `max_execution_time`.
    pub timeout_seconds: u64,
    /// `QUERY_MAX_MEMORY_BYTES` (default 2 GiB): ClickHouse `max_memory_usage`.
    pub max_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_seconds: 10,
            max_memory_bytes: 2 << 30,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("QUERY_PORT", 8003)?,
            nats: NatsConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
            auth: plumbing::jwt::AuthConfig::from_env()?,
            limits: Limits {
                timeout_seconds: plumbing::config::var_or("QUERY_TIMEOUT_SECONDS", 10)?,
                max_memory_bytes: plumbing::config::var_or("QUERY_MAX_MEMORY_BYTES", 2 << 30)?,
            },
            sql_log: std::env::var_os("QUERY_SQL_LOG")
                .filter(|path| !path.is_empty())
                .map(std::path::PathBuf::from),
        })
    }
}

/// Runs query until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let queries = plumbing::metrics::counter_family("result", &["ok", "invalid", "failed"]);
    metrics.register(
        "queries",
        "Analytics queries run, by result",
        queries.clone(),
    );
    let jetstream = JetStream::start(
        &config.nats.url,
        SERVICE,
        Definitions::for_service(plumbing::streams::Service::Query, config.nats.replicas)?,
    )
    .await?;
    let state = state(&config, &jetstream, queries)?;
    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check(
            "clickhouse",
            // The ping is no analytics query: it runs without their limits.
            plumbing::clickhouse::readiness_check(
                plumbing::clickhouse::client(&config.clickhouse),
                None,
            ),
        )
        .with_check("projects", state.projects.readiness_check());
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

/// What every route shares, from the configuration: ClickHouse with the query limits and the
/// SQL log, the live feed's NATS client, the projects followed from JetStream, the token
/// verifier and the query counter.
fn state(config: &Config, jetstream: &JetStream, queries: Outcomes) -> anyhow::Result<AppState> {
    let clickhouse = plumbing::clickhouse::client(&config.clickhouse)
        .with_setting(
            "max_execution_time",
            config.limits.timeout_seconds.to_string(),
        )
        .with_setting(
            "max_memory_usage",
            config.limits.max_memory_bytes.to_string(),
        );
    // On a cluster, the links of a distinct id are on the shard of its events (both are
    // sharded by the id's hash): a join of the two reads each shard's own (`persons::sql`).
    let clickhouse = if config.clickhouse.cluster.is_some() {
        clickhouse.with_setting("distributed_product_mode", "local")
    } else {
        clickhouse
    };
    let sql_log = match &config.sql_log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening QUERY_SQL_LOG {}", path.display()))?,
        ),
        None => None,
    };
    // One copy of each project's links for every kind of kept days.
    let links = crate::persons::hashes::KeptLinks::default();
    Ok(AppState {
        store: Store::new(
            clickhouse,
            sql_log,
            config.clickhouse.database.clone(),
            config.clickhouse.cluster.clone(),
        ),
        nats: jetstream.context.client(),
        projects: plumbing::projects::Projects::follow(jetstream.context.clone()),
        tokens: Arc::new(config.auth.verifier()),
        queries,
        days: crate::overview::DayCache::sharing(links.clone()),
        trend_days: crate::trends::TrendDays::sharing(links.clone()),
        top_days: crate::top::TopDays::sharing(links),
        key_usage: crate::access::KeyUsage::default(),
        unlocked: crate::shared::Unlocked::default(),
    })
}

/// The query routes, and `GET /openapi.json` (no token needed) describing them.
fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/query/overview", get(routes::overview::overview))
        .route("/api/query/trends", get(routes::trends::trends))
        .route("/api/query/top", get(routes::top::top))
        .route("/api/query/events", get(routes::events::events))
        .route("/api/query/events/{id}", get(routes::events::event))
        .route("/api/query/persons", get(routes::persons::persons))
        .route("/api/query/persons/{id}", get(routes::persons::person))
        .route("/api/query/funnel", post(routes::journeys::funnel))
        .route("/api/query/retention", post(routes::journeys::retention))
        .route("/api/query/live", get(routes::live::live))
        .route("/api/query/catalog", get(routes::catalog::catalog))
        .route("/api/query/system", get(routes::system::system))
        .route(
            "/api/query/insights/{insight_id}",
            get(routes::insights::insight),
        )
        .route("/api/shared/{token}", get(routes::shared::dashboard))
        .route(
            "/api/shared/{token}/embedding",
            get(routes::shared::embedding),
        )
        .route(
            "/api/shared/{token}/insights/{insight_id}",
            get(routes::shared::tile),
        )
        .route(
            "/api/admin/projects/{project_id}/persons/{distinct_id}",
            delete(routes::erasure::erase),
        )
        .route(
            "/api/admin/projects/{project_id}/persons/{distinct_id}/export",
            get(routes::erasure::export),
        )
        .with_state(state)
        .merge(plumbing::http::openapi_route(
            &<openapi::ApiDoc as utoipa::OpenApi>::openapi(),
        ))
}
