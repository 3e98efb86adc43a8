//! Forwarding a request to the service that answers it, and its answer back: bodies streamed
//! both ways (so Server-Sent Events pass through as they are written), the hop's headers
//! dropped and edge's `X-Forwarded-*` set, an upstream down answered 503 and one too slow 504,
//! and an answer that stalls midway cut. An upload (a route's `POST` with a body limit of its
//! own) may take as long as its bytes keep coming: it is cut once nothing has passed for the
//! timeout, the client's bytes on their way or, once they are all sent, the service's answer.

use std::future::Future as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use axum::response::{IntoResponse as _, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::body_limit;
use crate::connector::Connector;
use crate::error::Error;
use crate::table::{Route, Upstream};

/// How long edge tries to open a connection to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The client that forwards requests: hyper's pooled HTTP/1 client, which takes the request's
/// body and gives the answer's as they are, with nothing between them and the socket but
/// [`Connector`]'s care for early answers.
type Forwarder = hyper_util::client::legacy::Client<Connector, Body>;

/// Where each upstream is, and the clients that reach them.
#[derive(Debug, Clone)]
pub(crate) struct Proxy {
    /// Forwards the calls of [`ROUTES`].
    forwarder: Forwarder,
    /// How long an upstream may send nothing, waiting for its answer or within it.
    timeout: Duration,
    /// Edge's own calls to the services (readiness probes, the OpenAPI parts).
    pub(crate) client: reqwest::Client,
    pub(crate) auth: String,
    pub(crate) ingest: String,
    pub(crate) query: String,
    /// The sink's health listener: nothing is forwarded there, the system status reads its
    /// `/readyz`.
    pub(crate) sink: String,
    /// The scheme and authority of the services' base URLs, in the order of
    /// [`Upstream::SERVICES`], each when its base has no path of its own: a request's URI is
    /// then these with the request's path and query, nothing parsed per request.
    parsed: [Option<(Scheme, Authority)>; 3],
}

impl Proxy {
    /// The services at their base URLs, given up on when they send nothing for `timeout`.
    pub(crate) fn new(
        timeout: Duration,
        auth: String,
        ingest: String,
        query: String,
        sink: String,
    ) -> anyhow::Result<Self> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let forwarder = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(Connector { http: connector });
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let parse = |base: &str| {
            let parts = base.trim_end_matches('/').parse::<Uri>().ok()?.into_parts();
            let bare = parts.path_and_query.is_none_or(|p| p.as_str() == "/");
            Some((parts.scheme?, parts.authority?)).filter(|_| bare)
        };
        let parsed = [parse(&auth), parse(&ingest), parse(&query)];
        Ok(Self {
            forwarder,
            timeout,
            client,
            auth,
            ingest,
            query,
            sink,
            parsed,
        })
    }

    /// The URI of the request `uri` at `upstream`, whose base is `base`.
    fn uri(&self, upstream: Upstream, base: &str, uri: &Uri) -> Result<Uri, axum::http::Error> {
        let path_and_query = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let parsed = Upstream::SERVICES
            .iter()
            .position(|service| *service == upstream)
            .and_then(|index| self.parsed[index].as_ref());
        match parsed {
            Some((scheme, authority)) => Uri::builder()
                .scheme(scheme.clone())
                .authority(authority.clone())
                .path_and_query(path_and_query)
                .build(),
            None => Ok(format!("{base}{path_and_query}").parse()?),
        }
    }

    /// Where `upstream` is; `None` for edge itself.
    pub(crate) fn base(&self, upstream: Upstream) -> Option<&str> {
        match upstream {
            Upstream::Auth => Some(&self.auth),
            Upstream::Ingest => Some(&self.ingest),
            Upstream::Query => Some(&self.query),
            Upstream::Edge => None,
        }
        .map(|base| base.trim_end_matches('/'))
    }
}

/// Headers that describe one hop, not the message: never forwarded either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Request headers edge sets itself (the client's are dropped), and those of the client's hop.
/// `Content-Length` passes: the body is streamed as it came, and a sized body lets a service
/// answer early (a refusal) without the connection breaking under a chunked upload.
const SET_BY_EDGE: &[&str] = &[
    "host",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-user-id",
    "x-user-role",
];

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, also_dropped: &[&str]) {
    for (name, value) in from {
        let name_text = name.as_str();
        if !HOP_BY_HOP.contains(&name_text) && !also_dropped.contains(&name_text) {
            to.append(name.clone(), value.clone());
        }
    }
}

pub(crate) async fn forward(
    proxy: &Proxy,
    route: &Route,
    base: &str,
    client: IpAddr,
    https: bool,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    // A body that says its size was checked against the limit already (hyper holds it to what
    // it says); a chunked one is counted on the way.
    let upstream = route.upstream;
    let limit = route
        .body_limit(&parts.method)
        .max(upstream.max_body_bytes());
    let (body, overflow) = body_limit::Forwarded::new(body, limit);
    // An upload's answer comes once the service has read it all: it is timed from the last
    // bytes that passed, not from the start.
    let passed = route.is_upload(&parts.method).then(Passed::new);
    let body = match &passed {
        Some(passed) => Body::new(Watched {
            body,
            passed: passed.clone(),
        }),
        None => Body::new(body),
    };
    let timeout = proxy.timeout;
    let uri = match proxy.uri(upstream, base, &parts.uri) {
        Ok(uri) => uri,
        Err(err) => {
            tracing::warn!(upstream = base, error = %err, "no upstream URL for the request");
            return Error::Unavailable.into_response();
        }
    };
    let mut forwarded = Request::new(body);
    *forwarded.method_mut() = parts.method;
    *forwarded.uri_mut() = uri;
    let headers = forwarded.headers_mut();
    headers.reserve(parts.headers.len() + 3);
    copy_headers(&parts.headers, headers, SET_BY_EDGE);
    // The client as edge determined it; anything the client claimed is dropped above.
    if let Ok(ip) = HeaderValue::from_str(&client.to_string()) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), ip);
    }
    if let Some(host) = parts.headers.get(header::HOST) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    let sent = match passed {
        Some(passed) => send_upload(timeout, proxy.forwarder.request(forwarded), &passed).await,
        None => tokio::time::timeout(timeout, proxy.forwarder.request(forwarded))
            .await
            .ok(),
    };
    let answer = match sent {
        Some(Ok(answer)) => answer,
        None => {
            tracing::warn!(upstream = base, timeout = ?timeout, "upstream too slow");
            return Error::UpstreamTimeout.into_response();
        }
        Some(Err(_)) if overflow.happened() => {
            return Error::BodyTooLarge { limit }.into_response();
        }
        Some(Err(err)) => {
            // The legacy client's own message names only the kind ("client error (Connect)").
            tracing::warn!(upstream = base, error = ?err, "upstream unavailable");
            return Error::Unavailable.into_response();
        }
    };
    let (mut parts, body) = answer.into_parts();
    for name in HOP_BY_HOP {
        parts.headers.remove(*name);
    }
    Response::from_parts(parts, Body::new(IdleTimeout::new(body, proxy.timeout)))
}

/// Sends an upload, waiting for its answer until nothing has passed for the proxy's timeout:
/// no bytes of the body while it comes, no answer once it has all gone. `None`: timed out.
async fn send_upload<F: std::future::Future>(
    timeout: Duration,
    request: F,
    passed: &Passed,
) -> Option<F::Output> {
    tokio::pin!(request);
    loop {
        let left = timeout.saturating_sub(passed.idle());
        if left.is_zero() {
            return None;
        }
        if let Ok(answer) = tokio::time::timeout(left, &mut request).await {
            return Some(answer);
        }
    }
}

/// When an upload's body last passed bytes on (milliseconds since `start`).
#[derive(Debug, Clone)]
struct Passed {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Passed {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// How long nothing has passed.
    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// An upload's body on its way, telling [`Passed`] of each frame and of its end.
struct Watched<B> {
    body: B,
    passed: Passed,
}

impl<B> http_body::Body for Watched<B>
where
    B: http_body::Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        if frame.is_ready() {
            this.passed.touch();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// An answer's body that fails when the upstream sends nothing more for `idle`, so an upstream
/// stalled mid-answer does not hold the client's connection for ever. The clock runs only while
/// the body waits: frames that are there already cost no timer.
struct IdleTimeout<B> {
    body: B,
    idle: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> IdleTimeout<B> {
    fn new(body: B, idle: Duration) -> Self {
        Self {
            body,
            idle,
            waiting: None,
        }
    }
}

impl<B> http_body::Body for IdleTimeout<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.waiting = None;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let idle = this.idle;
        let waiting = this
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match waiting.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                "the service sent nothing for {idle:?} in the middle of its answer"
            )
            .into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
