//! Query: the analytics API over ClickHouse (trends, breakdowns, funnels, retention, explorer)
//! and the live feed from NATS.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use plumbing::config::{ClickHouseConfig, ConfigError, HttpConfig, NatsConfig};
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use tokio::net::TcpListener;

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "query";

/// Everything query reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener (`QUERY_PORT`, default 8003).
    pub http: HttpConfig,
    /// Source of the live feed.
    pub nats: NatsConfig,
    /// Where events are read.
    pub clickhouse: ClickHouseConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("QUERY_PORT", 8003)?,
            nats: NatsConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
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
    metrics.register("queries", "Analytics queries run, by result", queries);
    let jetstream = JetStream::start(&config.nats.url, SERVICE, Definitions::bundled()?).await?;
    let clickhouse = plumbing::clickhouse::client(&config.clickhouse);

    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check(
            "clickhouse",
            plumbing::clickhouse::readiness_check(clickhouse, None),
        );
    plumbing::http::run_service(
        listener,
        Router::new(),
        health,
        metrics,
        &config.http,
        shutdown,
    )
    .await?;
    Ok(())
}
