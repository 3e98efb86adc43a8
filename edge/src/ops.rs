//! Edge's operational routes, split over its two listeners. Edge is the public door, so its
//! public listener answers only what probes and load balancers need: `/healthz`, and a `/readyz`
//! that says ready or not and nothing else. `/metrics` and the detailed `/readyz` (which service
//! behind edge is down) tell whoever plans an attack what is there and what hurts; they are on
//! the internal listener (`EDGE_METRICS_PORT`), which the platform reaches and the public does
//! not (neither the Kubernetes Service nor compose publishes it).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use contract::health::Status;
use futures_util::FutureExt as _;
use plumbing::config::HttpConfig;
use plumbing::error::error_response;
use plumbing::health::Health;
use plumbing::http::{Ops, observe, ops_router};
use plumbing::metrics::Metrics;
use tokio::net::TcpListener;

use crate::state::SERVICE;

/// Where edge listens: the public door, and the internal listener of its operational routes.
#[derive(Debug)]
pub struct Listeners {
    pub public: TcpListener,
    pub internal: TcpListener,
}

/// The listener `http` names, with the address in the error when it cannot be bound.
pub(crate) async fn bind(http: &HttpConfig) -> anyhow::Result<TcpListener> {
    use anyhow::Context as _;

    let addr = http.bind_addr();
    TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// Serves `routes` with the public `/healthz` and `/readyz` on `listeners.public`, and every
/// service's operational routes on `listeners.internal`, both observed, until `shutdown`
/// completes; then readiness turns 503 on both, and after `shutdown_delay` both close.
pub(crate) async fn serve(
    listeners: Listeners,
    routes: Router,
    health: Health,
    metrics: Arc<Metrics>,
    shutdown_delay: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let health = Arc::new(health);
    let public = routes
        .merge(public_router(Arc::clone(&health)))
        .method_not_allowed_fallback(|| async {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not answer this method",
            )
        });
    let internal = ops_router(Ops {
        health: Arc::clone(&health),
        metrics: Arc::clone(&metrics),
    });
    let shutdown = shutdown.shared();
    tokio::try_join!(
        plumbing::http::serve(
            listeners.public,
            observe(public, Arc::clone(&metrics)),
            Arc::clone(&health),
            shutdown_delay,
            shutdown.clone(),
        ),
        plumbing::http::serve(
            listeners.internal,
            observe(internal, metrics),
            health,
            shutdown_delay,
            shutdown,
        ),
    )?;
    Ok(())
}

/// How long the public `/readyz` reuses its last answer. Each answer asks every service behind
/// edge; the public may ask as often as it likes, the services are asked at most this often on
/// its behalf. Probes come every few seconds and see a fresh answer.
const PUBLIC_READINESS_TTL: Duration = Duration::from_secs(1);

/// What the public routes need: the health checks, and the last public readiness answer.
struct Public {
    health: Arc<Health>,
    last: tokio::sync::Mutex<Option<(Instant, Status)>>,
}

/// `GET /healthz`, `GET /readyz` with the status only, and a 404 JSON for `/metrics`, which
/// would otherwise be a client route of the web app.
fn public_router(health: Arc<Health>) -> Router {
    let public = Arc::new(Public {
        health,
        last: tokio::sync::Mutex::new(None),
    });
    Router::new()
        .route(
            "/healthz",
            get(|State(public): State<Arc<Public>>| async move { Json(public.health.liveness()) }),
        )
        .route("/readyz", get(public_readiness))
        .route(
            "/metrics",
            any(|| async { error_response(StatusCode::NOT_FOUND, "not_found", "no such route") }),
        )
        .with_state(public)
}

/// Ready (200) or not (503), in the shape every service answers, without the checks: the
/// internal `/readyz` names them. Shutting down shows at once; otherwise an answer younger than
/// [`PUBLIC_READINESS_TTL`] is reused, and callers that find it old wait for one new one.
async fn public_readiness(State(public): State<Arc<Public>>) -> Response {
    let status = if public.health.is_draining() {
        Status::ShuttingDown
    } else {
        let mut last = public.last.lock().await;
        match *last {
            Some((at, status)) if at.elapsed() < PUBLIC_READINESS_TTL => status,
            _ => {
                let status = public.health.readiness().await.status;
                *last = Some((Instant::now(), status));
                status
            }
        }
    };
    let code = if status == Status::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = contract::health::Health {
        service: SERVICE.to_owned(),
        status,
        checks: BTreeMap::new(),
    };
    (code, Json(body)).into_response()
}
