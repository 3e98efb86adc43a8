//! Auth: users, roles, projects and write keys. Every change is an event on the JetStream `AUTH`
//! stream; Postgres holds projections rebuilt from it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use plumbing::config::{ConfigError, HttpConfig, NatsConfig, PostgresConfig};
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "auth";

/// The Postgres migrations of the projections.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Everything auth reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener (`AUTH_PORT`, default 8002).
    pub http: HttpConfig,
    /// JetStream server holding the `AUTH` stream.
    pub nats: NatsConfig,
    /// Projections database.
    pub postgres: PostgresConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("AUTH_PORT", 8002)?,
            nats: NatsConfig::from_env()?,
            postgres: PostgresConfig::from_env()?,
        })
    }
}

/// A pool that connects lazily, so auth starts (and reports "not ready") while Postgres is down.
pub fn pool(config: &PostgresConfig) -> PgPool {
    let options = PgConnectOptions::new()
        .host(&config.host)
        .port(config.port)
        .database(&config.database)
        .username(&config.user)
        .password(config.password.expose());
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options)
}

/// Runs auth until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let logins = plumbing::metrics::counter_family("result", &["success", "failure"]);
    metrics.register("logins", "Login attempts, by result", logins);
    let jetstream = JetStream::start(&config.nats.url, SERVICE, Definitions::bundled()?).await?;
    let pool = pool(&config.postgres);
    let migrated = plumbing::startup::spawn_until_ok("postgres migrations", {
        let pool = pool.clone();
        move || {
            let pool = pool.clone();
            async move { MIGRATOR.run(&pool).await.map_err(anyhow::Error::from) }
        }
    });

    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check("postgres", move || {
            let pool = pool.clone();
            let migrated = migrated.clone();
            async move {
                sqlx::query("SELECT 1")
                    .execute(&pool)
                    .await
                    .map_err(|err| err.to_string())?;
                if migrated.is_done() {
                    Ok(())
                } else {
                    Err("migrations not applied yet".to_owned())
                }
            }
        });
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
