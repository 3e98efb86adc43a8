//! Serving the web app: hashed assets under `/assets/` with a year-long cache (gzip-compressed
//! for browsers that accept it), and `index.html` (never cached) for every other path, so
//! client-side routes survive a reload.

use std::path::PathBuf;

use axum::Router;
use axum::extract::{Request, State};
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

/// Where the built app lives and what to count.
#[derive(Debug, Clone)]
pub(crate) struct UiState {
    pub(crate) dir: PathBuf,
    pub(crate) metrics: UiMetrics,
}

pub(crate) fn router(state: UiState) -> Router {
    Router::new()
        .route("/assets/{*path}", axum::routing::get(asset))
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

fn count(state: &UiState, kind: &str) {
    state
        .metrics
        .responses
        .get_or_create(&vec![("kind", kind.to_owned())])
        .inc();
}
