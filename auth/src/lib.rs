//! Auth: users, roles and sessions. Every change is an event on the JetStream `AUTH` stream;
//! Postgres holds projections rebuilt from it, and access tokens are EdDSA JWTs.

pub mod admin;
pub mod api;
pub mod bench;
pub mod email;
pub mod keys;
mod last_admin;
pub mod limits;
pub mod openapi;
pub mod passwords;
pub mod projector;
mod quota;
pub mod rebuild;
pub mod store;
pub mod tokens;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use plumbing::config::{ConfigError, HttpConfig, NatsConfig, PostgresConfig, Secret, var_or};
use plumbing::forwarded::TrustedProxies;
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;

use crate::keys::Keys;
use crate::tokens::TokenSettings;

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "auth";

/// The Postgres migrations of the projections.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Where the token signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `AUTH_SIGNING_KEYS_FILE`: a file with one base64url Ed25519 seed per line.
    File(PathBuf),
    /// `AUTH_SIGNING_KEYS`: the same lines in a variable (newline or comma separated).
    Inline(Secret),
}

impl KeySource {
    pub fn load(&self) -> anyhow::Result<Keys> {
        match self {
            KeySource::File(path) => Keys::load(path),
            KeySource::Inline(secret) => Keys::from_lines(&secret.expose().replace(',', "\n")),
        }
    }
}

/// Everything auth reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener (`AUTH_PORT`, default 8002).
    pub http: HttpConfig,
    /// JetStream server holding the `AUTH` stream.
    pub nats: NatsConfig,
    /// Projections database.
    pub postgres: PostgresConfig,
    /// Token signing keys (`AUTH_SIGNING_KEYS_FILE` or `AUTH_SIGNING_KEYS`, one is required).
    pub keys: KeySource,
    /// `iss` and `aud` of access tokens, TTLs (`AUTH_ISSUER`, `AUTH_AUDIENCE`,
    /// `ACCESS_TOKEN_TTL_SECS` default 900, `REFRESH_TOKEN_TTL_SECS` default 30 days).
    pub tokens: TokenSettings,
    /// How long a command waits for its own event in the projection (`PROJECTION_TIMEOUT_MS`).
    pub projection_timeout_ms: u64,
    /// Mark the refresh cookie `Secure` (`SECURE_COOKIES`, default false; true behind TLS).
    pub secure_cookies: bool,
    /// The first admin (`ADMIN_EMAIL`, `ADMIN_PASSWORD`), created or promoted at start when no
    /// admin exists.
    pub first_admin: Option<(String, Secret)>,
    /// Brute-force limits on login.
    pub login_limits: limits::LoginLimits,
    /// Peers trusted to name the client in `X-Forwarded-For` (`TRUSTED_PROXIES`, addresses or
    /// CIDR blocks, comma separated, default `127.0.0.1,::1`: an edge on the same host).
    pub trusted_proxies: TrustedProxies,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let keys = match (
            var_or::<String>("AUTH_SIGNING_KEYS_FILE", String::new())?,
            var_or("AUTH_SIGNING_KEYS", Secret::default())?,
        ) {
            (file, _) if !file.is_empty() => KeySource::File(PathBuf::from(file)),
            (_, inline) if !inline.expose().is_empty() => KeySource::Inline(inline),
            _ => {
                return Err(ConfigError {
                    name: "AUTH_SIGNING_KEYS_FILE".to_owned(),
                    problem: "is required (or AUTH_SIGNING_KEYS); `cargo xtask up` generates one"
                        .to_owned(),
                });
            }
        };
        Ok(Self {
            http: HttpConfig::from_env("AUTH_PORT", 8002)?,
            nats: NatsConfig::from_env()?,
            postgres: PostgresConfig::from_env()?,
            keys,
            tokens: TokenSettings {
                issuer: var_or("AUTH_ISSUER", "event-analytics".to_owned())?,
                audience: var_or("AUTH_AUDIENCE", "event-analytics".to_owned())?,
                access_ttl_secs: var_or("ACCESS_TOKEN_TTL_SECS", 900)?,
                refresh_ttl_secs: var_or("REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            },
            projection_timeout_ms: var_or("PROJECTION_TIMEOUT_MS", 5_000)?,
            secure_cookies: var_or("SECURE_COOKIES", false)?,
            first_admin: match (
                var_or("ADMIN_EMAIL", String::new())?,
                var_or("ADMIN_PASSWORD", Secret::default())?,
            ) {
                (email, _) if email.is_empty() => None,
                (_, password) if password.expose().is_empty() => {
                    return Err(ConfigError {
                        name: "ADMIN_PASSWORD".to_owned(),
                        problem: "is required when ADMIN_EMAIL is set".to_owned(),
                    });
                }
                (email, password) => Some((email, password)),
            },
            login_limits: limits::LoginLimits {
                per_account: var_or("LOGIN_MAX_FAILURES_PER_ACCOUNT", 10)?,
                per_account_under_attack: var_or("LOGIN_MAX_FAILURES_PER_ACCOUNT_UNDER_ATTACK", 3)?,
                per_ip: var_or("LOGIN_MAX_FAILURES_PER_IP", 100)?,
                window_secs: var_or("LOGIN_FAILURE_WINDOW_SECS", 900)?,
            },
            trusted_proxies: var_or("TRUSTED_PROXIES", TrustedProxies::local())?,
        })
    }
}

impl Config {
    /// Defaults everywhere and a freshly generated signing key: for tests and tools.
    pub fn with_defaults(
        http: HttpConfig,
        nats: NatsConfig,
        postgres: PostgresConfig,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http,
            nats,
            postgres,
            keys: KeySource::Inline(Secret::new(keys::generate_line()?)),
            tokens: TokenSettings {
                issuer: "event-analytics".to_owned(),
                audience: "event-analytics".to_owned(),
                access_ttl_secs: 900,
                refresh_ttl_secs: 30 * 24 * 3600,
            },
            projection_timeout_ms: 5_000,
            secure_cookies: false,
            first_admin: None,
            login_limits: limits::LoginLimits::default(),
            trusted_proxies: TrustedProxies::local(),
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
    let keys = Arc::new(config.keys.load()?);
    let metrics = Arc::new(Metrics::new(SERVICE));
    let logins = plumbing::metrics::counter_family("result", &["success", "failure", "locked"]);
    metrics.register("logins", "Login attempts, by result", logins.clone());
    let jetstream = JetStream::start(
        &config.nats.url,
        SERVICE,
        Definitions::for_service(plumbing::streams::Service::Auth)?,
    )
    .await?;
    let pool = pool(&config.postgres);
    let migrated = plumbing::startup::spawn_until_ok("postgres migrations", {
        let pool = pool.clone();
        move || {
            let pool = pool.clone();
            async move { MIGRATOR.run(&pool).await.map_err(anyhow::Error::from) }
        }
    });
    let projection = projector::spawn(jetstream.context.clone(), pool.clone());

    let mut health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check("postgres", {
            let pool = pool.clone();
            move || {
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
            }
        });
    let state = api::AppState {
        publisher: store::Publisher::new(jetstream.context.clone()),
        pool,
        projection,
        keys,
        tokens: config.tokens.clone(),
        projection_timeout: Duration::from_millis(config.projection_timeout_ms),
        secure_cookies: config.secure_cookies,
        logins,
        failures: Arc::default(),
        login_limits: config.login_limits.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
    };
    let builtin_project = plumbing::startup::spawn_until_ok("built-in project", {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { admin::ensure_builtin_project(&state).await }
        }
    });
    if let Some((email, password)) = config.first_admin.clone() {
        let state = state.clone();
        let first_admin = plumbing::startup::spawn_until_ok("first admin", move || {
            let state = state.clone();
            let (email, password) = (email.clone(), password.clone());
            async move {
                // Decide on a projection that has caught up with the stream, or a restart could
                // miss the admin that already exists.
                let mut stream = state
                    .publisher
                    .context()
                    .get_stream(contract::streams::AUTH_STREAM)
                    .await?;
                let last = stream.info().await?.state.last_sequence;
                anyhow::ensure!(
                    state
                        .projection
                        .wait_for(last, Duration::from_secs(30))
                        .await,
                    "projection has not caught up with the stream"
                );
                admin::bootstrap_admin(&state, &email, password.expose()).await
            }
        });
        // Ready once the configured admin can log in: a client that waits for readiness never
        // spends failed logins (which lock the account) on an admin that does not exist yet.
        health = health.with_check(
            "first_admin",
            first_admin.readiness_check("the first admin is not created yet"),
        );
    }
    health = health.with_check(
        "builtin_project",
        builtin_project.readiness_check("the built-in project is not created yet"),
    );
    plumbing::http::run_service(
        listener,
        api::router(state),
        health,
        metrics,
        &config.http,
        shutdown,
    )
    .await?;
    Ok(())
}
