//! The HTTP pieces every service shares: `/healthz`, `/readyz`, `/metrics`, the per-request
//! span, request id and metrics, and serving with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use contract::health::Status;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::config::HttpConfig;
use crate::health::Health;
use crate::metrics::{self, Metrics};

/// Header that carries the request id from the edge through every service.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The W3C trace context header, carried from the edge through every service and into NATS
/// message headers.
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// What the operational routes need.
#[derive(Debug, Clone)]
pub struct Ops {
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
}

/// `GET /healthz`, `GET /readyz` and `GET /metrics`.
pub fn ops_router(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(ops)
}

/// `GET /openapi.json`: this service's part of the public API description, serialised once.
/// The edge merges every service's part into `/api/openapi.json`.
pub fn openapi_route(document: &impl serde::Serialize) -> Router {
    let body = axum::body::Bytes::from(serde_json::to_vec(document).unwrap_or_default());
    Router::new().route(
        "/openapi.json",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    )
}

async fn healthz(State(ops): State<Ops>) -> Response {
    axum::Json(ops.health.liveness()).into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let body = ops.health.readiness().await;
    let status = if body.status == Status::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(ops): State<Ops>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        ops.metrics.render(),
    )
        .into_response()
}

/// Wraps a router so every request gets a request id, a `request` span with method, matched
/// route and request id, a closing log line, and the HTTP metrics.
pub fn observe(router: Router, metrics: Arc<Metrics>) -> Router {
    router.layer(ObserveLayer { metrics })
}

/// The layer of [`observe`]. A service of its own rather than `middleware::from_fn`, which
/// clones the wrapped route and boxes it again for every request: on single-event requests
/// that was a measurable share of the whole request.
#[derive(Debug, Clone)]
struct ObserveLayer {
    metrics: Arc<Metrics>,
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observed {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

#[derive(Debug, Clone)]
struct Observed<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> tower::Service<Request> for Observed<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .filter(|value| is_acceptable_request_id(value))
            .cloned()
            .unwrap_or_else(new_request_id);
        request
            .headers_mut()
            .insert(REQUEST_ID.clone(), request_id.clone());
        let incoming = request
            .headers()
            .get(&TRACEPARENT)
            .filter(|value| trace_id(value).is_some())
            .cloned();
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let route_label = || route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let span = tracing::info_span!(
            "request",
            method = %method,
            route = %route_label(),
            request_id = request_id.to_str().unwrap_or_default(),
            trace_id = tracing::field::Empty,
        );
        // When spans are exported, this span continues the caller's trace and the next hop (a
        // service behind the edge, a NATS message) continues from this span; otherwise the
        // caller's trace context is handed on as it came, or a new one is started.
        if let Some(text) = incoming.as_ref().and_then(|value| value.to_str().ok()) {
            crate::telemetry::set_remote_parent(&span, text);
        }
        let traceparent = crate::telemetry::traceparent_of(&span)
            .and_then(|own| HeaderValue::from_str(&own).ok())
            .or(incoming)
            .unwrap_or_else(new_traceparent);
        if !span.is_disabled() {
            span.record("trace_id", trace_id(&traceparent).unwrap_or_default());
        }
        request
            .headers_mut()
            .insert(TRACEPARENT.clone(), traceparent);

        let answer = span.in_scope(|| self.inner.call(request));
        let metrics = Arc::clone(&self.metrics);
        Box::pin(async move {
            let Ok(mut response) = answer.instrument(span.clone()).await;
            let status = response.status();
            let elapsed = started.elapsed();
            span.in_scope(|| {
                if status.is_server_error() {
                    tracing::warn!(
                        status = status.as_u16(),
                        latency_ms = elapsed.as_millis() as u64,
                        "request failed"
                    );
                } else {
                    tracing::debug!(
                        status = status.as_u16(),
                        latency_ms = elapsed.as_millis() as u64,
                        "request finished"
                    );
                }
            });
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            metrics.observe_request(method.as_str(), route, status, elapsed);
            response
                .headers_mut()
                .insert(REQUEST_ID.clone(), request_id);
            Ok(response)
        })
    }
}

/// A client-sent id is kept when it is short printable ASCII, so it cannot forge log lines.
fn is_acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 64 && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// The trace id of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero).
fn trace_id(traceparent: &HeaderValue) -> Option<&str> {
    crate::traceparent::parse(traceparent.to_str().ok()?).map(|parsed| parsed.trace_id)
}

/// A new sampled trace context.
fn new_traceparent() -> HeaderValue {
    // Ids of zero are invalid; the generator gives one once in 2^64 draws, so draw again.
    let trace = loop {
        let id = (u128::from(random_u64()) << 64) | u128::from(random_u64());
        if id != 0 {
            break id;
        }
    };
    let span = loop {
        let id = random_u64();
        if id != 0 {
            break id;
        }
    };
    // Written in place: a `format!` of the two ids cost a share of edge's whole request.
    let mut text = *b"00-00000000000000000000000000000000-0000000000000000-01";
    write_hex(&mut text[3..35], trace);
    write_hex(&mut text[36..52], u128::from(span));
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| {
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    })
}

/// `value`'s lowest `out.len()` hex digits, lower case, into `out`.
fn write_hex(out: &mut [u8], value: u128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (shift, digit) in out.iter_mut().rev().enumerate() {
        *digit = DIGITS[((value >> (4 * shift)) & 0xf) as usize];
    }
}

/// A UUIDv7 request id.
fn new_request_id() -> HeaderValue {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let mut random = [0_u8; 10];
    random[..8].copy_from_slice(&random_u64().to_le_bytes());
    random[8..].copy_from_slice(&random_u64().to_le_bytes()[..2]);
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    // A UUID's text form is always a valid header value.
    HeaderValue::from_str(
        id.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    )
    .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Random bits for request and trace ids: SplitMix64 per thread, seeded once from the operating
/// system. `uuid`'s generators ask the kernel on every call, which cost a system call per id;
/// these ids need to be unique, not unpredictable: one id seen reveals the thread's state, so
/// never use them as secrets or tokens (event ids, keys and tokens come from elsewhere).
fn random_u64() -> u64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> =
            std::cell::Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// Serves a service's own `routes` plus the operational routes, observed, until `shutdown`
/// completes (see [`serve`]).
pub async fn run_service(
    listener: TcpListener,
    routes: Router,
    health: Health,
    metrics: Arc<Metrics>,
    http: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown_delay = Duration::from_millis(http.shutdown_delay_ms);
    let health = Arc::new(health);
    let app = routes
        .merge(ops_router(Ops {
            health: Arc::clone(&health),
            metrics: Arc::clone(&metrics),
        }))
        .method_not_allowed_fallback(|| async {
            crate::error::error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not answer this method",
            )
        })
        .layer(crate::leftover::ReadLeftoverLayer);
    serve(
        listener,
        observe(app, metrics),
        health,
        shutdown_delay,
        shutdown,
    )
    .await
}

/// Serves `app` until `shutdown` completes; then readiness turns 503, and after
/// `shutdown_delay` the listener closes and in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    health: Arc<Health>,
    shutdown_delay: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(service = health.service(), %addr, "listening");
    let draining = Arc::clone(&health);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        draining.start_draining();
        tokio::time::sleep(shutdown_delay).await;
    })
    .await?;
    tracing::info!(service = health.service(), "stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_traceparent_is_kept() {
        let trace =
            |text: &'static str| trace_id(&HeaderValue::from_static(text)).map(str::to_owned);
        assert_eq!(
            trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "hello",
        ] {
            assert_eq!(trace(bad), None, "{bad}");
        }
        let fresh = new_traceparent();
        assert!(trace_id(&fresh).is_some(), "{fresh:?}");
        let mut text = [0_u8; 32];
        let id = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128;
        write_hex(&mut text, id);
        assert_eq!(text, *format!("{id:032x}").as_bytes());
        write_hex(&mut text[..16], 0x00f0_67aa_0ba9_02b7);
        assert_eq!(&text[..16], b"00f067aa0ba902b7");
    }
}
