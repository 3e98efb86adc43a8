//! Serving the web app: hashed assets under `/assets/` with a year-long cache (gzip-compressed
//! for browsers that accept it), and `index.html` (never cached) for every other path, so
//! client-side routes survive a reload. Never framed, but a shared dashboard's page
//! (`/shared/<token>`) by the origins its sharer listed.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The web app's metrics.
#[derive(Debug, Clone)]
pub(crate) struct UiMetrics {
    /// `edge_ui_responses_total{kind}`: web app responses, `index` or `asset`.
    pub(crate) responses: Family<Vec<(&'static str, String)>, Counter>,
}

/// Content-Security-Policy of the web app: only its own scripts (WASM needs
/// `'wasm-unsafe-eval'`), no inline script, never framed (see [`shared_page`] for the one
/// exception).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
form-action 'self'; frame-ancestors 'none'";

/// Where the built app lives, what to count, and where to ask which origins may frame a shared
/// dashboard.
#[derive(Debug, Clone)]
pub(crate) struct UiState {
    pub(crate) dir: PathBuf,
    pub(crate) metrics: UiMetrics,
    pub(crate) client: reqwest::Client,
    /// Query's base URL.
    pub(crate) query_url: String,
}

pub(crate) fn router(state: UiState) -> Router {
    Router::new()
        .route("/assets/{*path}", axum::routing::get(asset))
        .route("/shared/{token}", axum::routing::get(shared_page))
        .fallback(axum::routing::get(index))
        .with_state(state)
}

async fn asset(State(state): State<UiState>, request: Request) -> Response {
    count(&state, "asset");
    // Assets are addressed by their path under /assets/, which ServeDir resolves without
    // escaping the directory.
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/assets")
        .unwrap_or("/")
        .to_owned();
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    // The build writes a gzip copy of each asset next to it (`cargo xtask ui`).
    let served = ServeDir::new(state.dir.join("assets"))
        .precompressed_gzip()
        .oneshot(Request::from_parts(parts, body))
        .await;
    let mut response = match served {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    if response.status().is_success() {
        // File names carry a content hash, so a changed file has a new name.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        // One address, two bodies (gzip or not): caches must keep them apart.
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

async fn index(State(state): State<UiState>) -> Response {
    count(&state, "index");
    match tokio::fs::read(state.dir.join("index.html")).await {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            html,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(dir = %state.dir.display(), error = %err, "web app not built");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(contract::ErrorBody::new(
                    "ui_unavailable",
                    "the web app is not available",
                )),
            )
                .into_response()
        }
    }
}

/// A shared dashboard's page: the web app, which the origins its sharer listed may show in an
/// iframe (`frame-ancestors`); any other page, or a link revoked, is never framed.
async fn shared_page(State(state): State<UiState>, Path(token): Path<String>) -> Response {
    let framers = framers(&state, &token).await;
    let mut response = index(State(state)).await;
    if let Some(framers) = framers {
        let policy = CONTENT_SECURITY_POLICY.replace(
            "frame-ancestors 'none'",
            &format!("frame-ancestors 'self' {framers}"),
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// What query answers for a link's framing origins.
#[derive(Debug, serde::Deserialize)]
struct Embedding {
    embed_origins: Vec<String>,
}

/// The origins that may frame the shared link of `token`, space-separated, as query says; `None`
/// when there are none, or the link is unknown, or query cannot say.
async fn framers(state: &UiState, token: &str) -> Option<String> {
    let token_like = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !token_like {
        return None;
    }
    let url = format!(
        "{}/api/shared/{token}/embedding",
        state.query_url.trim_end_matches('/')
    );
    let response = state
        .client
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?;
    let embedding: Embedding = serde_json::from_slice(&response.bytes().await.ok()?).ok()?;
    let origins: Vec<String> = embedding
        .embed_origins
        .into_iter()
        .filter(|origin| is_origin(origin))
        .collect();
    (!origins.is_empty()).then(|| origins.join(" "))
}

/// Whether `text` is a bare origin (`https://host[:port]`), safe to write into the policy.
fn is_origin(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-:".contains(&b))
}

fn count(state: &UiState, kind: &str) {
    state
        .metrics
        .responses
        .get_or_create(&vec![("kind", kind.to_owned())])
        .inc();
}
