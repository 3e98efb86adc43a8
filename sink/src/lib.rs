//! The sink: a durable JetStream consumer that stores events in ClickHouse, acking each message
//! only after the insert that holds it succeeded.

pub mod schema;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use plumbing::config::{ClickHouseConfig, ConfigError, HttpConfig, NatsConfig};
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use prometheus_client::metrics::counter::Counter;
use tokio::net::TcpListener;

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "sink";

/// Everything the sink reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener for health and metrics (`SINK_PORT`, default 8004).
    pub http: HttpConfig,
    /// JetStream server.
    pub nats: NatsConfig,
    /// Where events are stored.
    pub clickhouse: ClickHouseConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("SINK_PORT", 8004)?,
            nats: NatsConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
        })
    }
}

/// Runs the sink until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let rows_inserted = Counter::<u64>::default();
    metrics.register(
        "rows_inserted",
        "Rows inserted into ClickHouse",
        rows_inserted.clone(),
    );
    let jetstream = JetStream::start(&config.nats.url, SERVICE, Definitions::bundled()?).await?;
    let clickhouse = plumbing::clickhouse::client(&config.clickhouse);
    let schema_ready = plumbing::startup::spawn_until_ok("clickhouse schema", {
        let config = config.clickhouse.clone();
        move || {
            let config = config.clone();
            async move {
                schema::apply(
                    &plumbing::clickhouse::server_client(&config),
                    &config.database,
                )
                .await
            }
        }
    });

    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check(
            "clickhouse",
            plumbing::clickhouse::readiness_check(clickhouse, Some(schema_ready)),
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
