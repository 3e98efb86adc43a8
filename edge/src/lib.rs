//! Edge: the one public entry point. It serves the web app and routes browser and SDK calls to
//! the services behind it.

pub mod proxy;
mod ui;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, header};
use plumbing::config::{ConfigError, HttpConfig, var_or};
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "edge";

/// Everything edge reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public listener (`API_GATEWAY_PORT`, default 8000).
    pub http: HttpConfig,
    /// Base URL of ingest (`INGEST_URL`, default `http://127.0.0.1:8001`).
    pub ingest_url: String,
    /// Base URL of auth (`AUTH_URL`, default `http://127.0.0.1:8002`).
    pub auth_url: String,
    /// Base URL of query (`QUERY_URL`, default `http://127.0.0.1:8003`).
    pub query_url: String,
    /// Directory of the built web app (`UI_DIR`, default `ui/dist`).
    pub ui_dir: PathBuf,
    /// How long an upstream may take before edge answers 504 (`UPSTREAM_TIMEOUT_MS`).
    pub upstream_timeout_ms: u64,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("API_GATEWAY_PORT", 8000)?,
            ingest_url: var_or("INGEST_URL", "http://127.0.0.1:8001".to_owned())?,
            auth_url: var_or("AUTH_URL", "http://127.0.0.1:8002".to_owned())?,
            query_url: var_or("QUERY_URL", "http://127.0.0.1:8003".to_owned())?,
            ui_dir: var_or("UI_DIR", PathBuf::from("ui/dist"))?,
            upstream_timeout_ms: var_or("UPSTREAM_TIMEOUT_MS", 30_000)?,
        })
    }

    /// The services edge forwards to, by name.
    fn upstreams(&self) -> [(&'static str, String); 3] {
        [
            ("ingest", self.ingest_url.clone()),
            ("auth", self.auth_url.clone()),
            ("query", self.query_url.clone()),
        ]
    }
}

/// Edge's own metrics.
#[derive(Debug, Clone)]
pub struct EdgeMetrics {
    /// `edge_ui_responses_total{kind}`: web app responses, `index` or `asset`.
    pub ui_responses: Family<Vec<(&'static str, String)>, Counter>,
}

/// Runs edge until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let edge_metrics = EdgeMetrics {
        ui_responses: plumbing::metrics::counter_family("kind", &["index", "asset"]),
    };
    metrics.register(
        "ui_responses",
        "Web app responses, by kind (index or asset)",
        edge_metrics.ui_responses.clone(),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.upstream_timeout_ms))
        .build()?;

    let mut health = Health::new(SERVICE, Arc::clone(&metrics));
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

    let proxy = proxy::Proxy {
        client: proxy::Proxy::client(Duration::from_millis(config.upstream_timeout_ms))?,
        auth: config.auth_url.clone(),
        ingest: config.ingest_url.clone(),
        query: config.query_url.clone(),
    };
    let app = proxy::router(proxy)
        .merge(ui::router(ui::UiState {
            dir: config.ui_dir.clone(),
            metrics: edge_metrics,
        }))
        .layer(security_headers());
    plumbing::http::run_service(listener, app, health, metrics, &config.http, shutdown).await?;
    Ok(())
}

/// Content-Security-Policy of the web app: only its own scripts (WASM needs
/// `'wasm-unsafe-eval'`), no inline script, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
form-action 'self'; frame-ancestors 'none'";

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
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
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
