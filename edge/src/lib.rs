//! Edge: the one public entry point. It serves the web app and routes browser and SDK calls to
//! the services behind it.
//!
//! Here: the configuration, `run`, and the router assembled from `routes` (the routing table's
//! routes, the system status and PostHog's script-tag path), `openapi` (the merged API
//! description) and `ui` (the web app).
//! Below them: `state` (what handlers share), `error` (edge's own refusals), `table` (which
//! service answers a path, for whom, how often), `forward` (passing a request on and its answer
//! back), `body_limit`, `connector`, `status` (gathering the system status) and `api_page` (the
//! description as HTML); `ops` serves it all beside the operational routes.

mod api_page;
mod body_limit;
mod connector;
mod error;
mod forward;
mod openapi;
mod ops;
mod routes;
mod state;
mod status;
mod table;
mod trackers;
mod ui;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, header};
use plumbing::config::{ConfigError, HttpConfig, var_or};
use plumbing::forwarded::TrustedProxies;
use plumbing::health::Health;
use plumbing::jwt::AuthConfig;
use plumbing::metrics::Metrics;
use plumbing::ratelimit::{Rate, RateLimiter};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

pub use ops::Listeners;

use crate::state::{AppState, Limiters, SERVICE};
use crate::ui::{UiMetrics, UiState};

/// Where the sink listens unless `SINK_URL` says otherwise (its `SINK_PORT` default).
const DEFAULT_SINK_URL: &str = "http://127.0.0.1:8004";

/// Everything edge reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public listener (`API_GATEWAY_PORT`, default 8000).
    pub http: HttpConfig,
    /// Internal listener of `/metrics` and the detailed `/readyz` (`EDGE_METRICS_PORT`, default
    /// 8005, on `LISTEN_HOST`), for Prometheus and operators; never published (see `ops`).
    pub internal: HttpConfig,
    /// Base URL of ingest (`INGEST_URL`, default `http://127.0.0.1:8001`).
    pub ingest_url: String,
    /// Auth: its base URL (`AUTH_URL`, default `http://127.0.0.1:8002`), whose JWKS edge
    /// verifies tokens with, and what tokens must say (`AUTH_ISSUER`, `AUTH_AUDIENCE`).
    pub auth: AuthConfig,
    /// Base URL of query (`QUERY_URL`, default `http://127.0.0.1:8003`).
    pub query_url: String,
    /// Base URL of the sink's health listener (`SINK_URL`, default `http://127.0.0.1:8004`):
    /// nothing is forwarded there, edge reads its `/readyz` for the system status.
    pub sink_url: String,
    /// Directory of the built web app (`UI_DIR`, default `ui/dist`).
    pub ui_dir: PathBuf,
    /// How long an upstream may take before edge answers 504 (`UPSTREAM_TIMEOUT_MS`).
    pub upstream_timeout_ms: u64,
    /// Peers trusted to name the client in `X-Forwarded-For` and to say it came over TLS in
    /// `X-Forwarded-Proto` (`TRUSTED_PROXIES`, addresses or CIDR blocks; default none: edge is
    /// the public door). Set it to the load balancer's addresses when one is in front.
    pub trusted_proxies: TrustedProxies,
    /// Request rates, per edge replica.
    pub limits: Limits,
}

/// Request rates edge allows, each per replica (see `plumbing::ratelimit`); 0 turns one off.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Logins, registrations, refreshes and password changes per client address
    /// (`AUTH_REQUESTS_PER_MINUTE_PER_CLIENT`, default 60).
    pub auth_per_client: Rate,
    /// Logins and registrations naming one account from one client address
    /// (`AUTH_REQUESTS_PER_MINUTE_PER_ACCOUNT`, default 10).
    pub auth_per_account: Rate,
    /// Query and dashboard-event calls per user (`API_REQUESTS_PER_MINUTE_PER_USER`,
    /// default 1200).
    pub api_per_user: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            auth_per_client: Rate::per_minute(60),
            auth_per_account: Rate::per_minute(10),
            api_per_user: Rate::per_minute(1_200),
        }
    }
}

impl Limits {
    fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            auth_per_client: Rate::per_minute(var_or(
                "AUTH_REQUESTS_PER_MINUTE_PER_CLIENT",
                defaults.auth_per_client.burst,
            )?),
            auth_per_account: Rate::per_minute(var_or(
                "AUTH_REQUESTS_PER_MINUTE_PER_ACCOUNT",
                defaults.auth_per_account.burst,
            )?),
            api_per_user: Rate::per_minute(var_or(
                "API_REQUESTS_PER_MINUTE_PER_USER",
                defaults.api_per_user.burst,
            )?),
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("API_GATEWAY_PORT", 8000)?,
            internal: HttpConfig::from_env("EDGE_METRICS_PORT", 8005)?,
            ingest_url: var_or("INGEST_URL", "http://127.0.0.1:8001".to_owned())?,
            auth: AuthConfig::from_env()?,
            query_url: var_or("QUERY_URL", "http://127.0.0.1:8003".to_owned())?,
            sink_url: var_or("SINK_URL", DEFAULT_SINK_URL.to_owned())?,
            ui_dir: var_or("UI_DIR", PathBuf::from("ui/dist"))?,
            upstream_timeout_ms: var_or("UPSTREAM_TIMEOUT_MS", 30_000)?,
            trusted_proxies: var_or("TRUSTED_PROXIES", TrustedProxies::none())?,
            limits: Limits::from_env()?,
        })
    }

    /// Defaults for everything but where the services and the app are: for tests and tools.
    /// The sink is where it listens by default; set `sink_url` when it is elsewhere.
    pub fn new(ingest_url: String, auth_url: String, query_url: String, ui_dir: PathBuf) -> Self {
        Self {
            http: HttpConfig::ephemeral(),
            internal: HttpConfig::ephemeral(),
            ingest_url,
            auth: AuthConfig::at(auth_url),
            query_url,
            sink_url: DEFAULT_SINK_URL.to_owned(),
            ui_dir,
            upstream_timeout_ms: 30_000,
            trusted_proxies: TrustedProxies::none(),
            limits: Limits::default(),
        }
    }

    /// The services edge forwards to, by name.
    fn upstreams(&self) -> [(&'static str, String); 3] {
        [
            ("ingest", self.ingest_url.clone()),
            ("auth", self.auth.url.clone()),
            ("query", self.query_url.clone()),
        ]
    }
}

/// Runs edge until `shutdown` completes: the public door on `listener`, and the internal
/// listener bound where `config.internal` says.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let internal = ops::bind(&config.internal).await?;
    let listeners = Listeners {
        public: listener,
        internal,
    };
    run_on(config, listeners, shutdown).await
}

/// [`run`] on listeners the caller bound (a test that reads the internal listener binds it
/// first, on any free port).
pub async fn run_on(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let ui_metrics = UiMetrics {
        responses: plumbing::metrics::counter_family("kind", &["index", "asset"]),
    };
    metrics.register(
        "ui_responses",
        "Web app responses, by kind (index or asset)",
        ui_metrics.responses.clone(),
    );
    let health = upstream_health(&config, Arc::clone(&metrics))?;
    let state = AppState {
        proxy: forward::Proxy::new(
            Duration::from_millis(config.upstream_timeout_ms),
            config.auth.url.clone(),
            config.ingest_url.clone(),
            config.query_url.clone(),
            config.sink_url.clone(),
        )?,
        tokens: config.auth.verifier(),
        trusted_proxies: config.trusted_proxies.clone(),
        limiters: Limiters {
            credentials_per_client: RateLimiter::new(config.limits.auth_per_client),
            credentials_per_account: RateLimiter::new(config.limits.auth_per_account),
            per_user: RateLimiter::new(config.limits.api_per_user),
        },
    };
    let ui = UiState {
        dir: config.ui_dir.clone(),
        metrics: ui_metrics,
        client: reqwest::Client::new(),
        query_url: config.query_url.clone(),
    };
    let trackers = routes::posthog::Bundles::new(&config.ui_dir);
    let shutdown_delay = Duration::from_millis(config.http.shutdown_delay_ms);
    ops::serve(
        listeners,
        router(state, trackers, ui),
        health,
        metrics,
        shutdown_delay,
        shutdown,
    )
    .await?;
    Ok(())
}

/// Edge's public routes: the routing table's, the API's description, the tracker scripts, then
/// the web app for every other path; every answer with the security headers.
fn router(state: AppState, posthog: routes::posthog::Bundles, ui: UiState) -> axum::Router {
    routes::proxy::router()
        .merge(openapi::router())
        .with_state(Arc::new(state))
        .merge(trackers::router())
        .merge(routes::posthog::router(posthog))
        .merge(ui::router(ui))
        .layer(security_headers())
}

/// Edge's readiness: every service it forwards to answers its `/healthz`.
fn upstream_health(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Health> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.upstream_timeout_ms))
        .build()?;
    let mut health = Health::new(SERVICE, metrics);
    for (name, base_url) in config.upstreams() {
        let client = client.clone();
        let url = format!("{}/healthz", base_url.trim_end_matches('/'));
        health = health.with_check(name, move || {
            let request = client.get(&url).timeout(Duration::from_secs(1)).send();
            async move {
                match request.await {
                    Ok(response) if response.status().is_success() => Ok(()),
                    Ok(response) => Err(format!("answered {}", response.status())),
                    Err(err) => Err(err.to_string()),
                }
            }
        });
    }
    Ok(health)
}

/// Headers every response of edge carries unless the handler set them.
fn security_headers() -> tower::layer::util::Stack<
    SetResponseHeaderLayer<HeaderValue>,
    tower::layer::util::Stack<
        SetResponseHeaderLayer<HeaderValue>,
        SetResponseHeaderLayer<HeaderValue>,
    >,
> {
    let csp = SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ui::CONTENT_SECURITY_POLICY),
    );
    let nosniff = SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let referrer = SetResponseHeaderLayer::overriding(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    tower::layer::util::Stack::new(csp, tower::layer::util::Stack::new(nosniff, referrer))
}
