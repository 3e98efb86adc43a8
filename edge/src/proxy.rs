//! Forwarding API and SDK calls to the services: one routing table, bodies streamed both ways
//! (so Server-Sent Events pass through as they are written), upstream down → 503 JSON, upstream
//! too slow → 504 JSON.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use plumbing::error::error_response;

/// A service behind edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Auth,
    Ingest,
    Query,
}

/// How a route's path matches.
#[derive(Debug, Clone, Copy)]
pub enum PathMatch {
    Exact(&'static str),
    /// Every path under this one.
    Prefix(&'static str),
}

use PathMatch::{Exact, Prefix};
use Upstream::{Auth, Ingest, Query};

/// The routing table. Everything not listed is the web app.
pub const ROUTES: &[(PathMatch, Upstream)] = &[
    // Accounts, sessions, admin, and the keys services verify tokens with.
    (Prefix("/api/auth/"), Auth),
    (Prefix("/api/admin/"), Auth),
    (Exact("/.well-known/jwks.json"), Auth),
    // Events: the dashboard's own, then the SDK wire formats (DESIGN.md).
    (Exact("/api/events"), Ingest),
    (Exact("/e"), Ingest),
    (Exact("/e/"), Ingest),
    (Exact("/i/v0/e"), Ingest),
    (Exact("/i/v0/e/"), Ingest),
    (Exact("/capture"), Ingest),
    (Exact("/capture/"), Ingest),
    (Exact("/batch"), Ingest),
    (Exact("/batch/"), Ingest),
    (Prefix("/v1/"), Ingest),
    (Exact("/b"), Ingest),
    (Exact("/api/event"), Ingest),
    (Exact("/api/send"), Ingest),
    // Analytics.
    (Prefix("/api/query/"), Query),
];

/// Where each upstream is, and the client that reaches them.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub client: reqwest::Client,
    pub auth: String,
    pub ingest: String,
    pub query: String,
}

impl Proxy {
    /// A client that streams, never follows redirects, and gives up on an upstream that sends
    /// nothing for `timeout`.
    pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .read_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?)
    }

    fn base(&self, upstream: Upstream) -> &str {
        match upstream {
            Auth => &self.auth,
            Ingest => &self.ingest,
            Query => &self.query,
        }
        .trim_end_matches('/')
    }
}

/// The routes of [`ROUTES`], each forwarding to its upstream.
pub fn router(proxy: Proxy) -> Router {
    let mut router = Router::new();
    for (path, upstream) in ROUTES {
        let upstream = *upstream;
        let handler = any(
            move |State(proxy): State<Proxy>,
                  ConnectInfo(peer): ConnectInfo<SocketAddr>,
                  request: Request| async move {
                forward(&proxy, upstream, peer, request).await
            },
        );
        router = match path {
            Exact(path) => router.route(path, handler),
            Prefix(prefix) => router.route(&format!("{prefix}{{*rest}}"), handler),
        };
    }
    router.with_state(proxy)
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
const SET_BY_EDGE: &[&str] = &[
    "host",
    "content-length",
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

async fn forward(
    proxy: &Proxy,
    upstream: Upstream,
    peer: SocketAddr,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path_and_query}", proxy.base(upstream));
    let mut headers = HeaderMap::new();
    copy_headers(&parts.headers, &mut headers, SET_BY_EDGE);
    // The client as edge saw it; anything the client claimed is dropped above.
    if let Ok(ip) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), ip);
    }
    if let Some(host) = parts.headers.get(header::HOST) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    let sent = proxy
        .client
        .request(parts.method, &url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(err) if err.is_timeout() => {
            tracing::warn!(?upstream, error = %err, "upstream too slow");
            return error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the service did not answer in time",
            );
        }
        Err(err) => {
            tracing::warn!(?upstream, error = %err, "upstream unavailable");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is unavailable; try again shortly",
            );
        }
    };
    let mut response = Response::builder().status(answer.status());
    if let Some(response_headers) = response.headers_mut() {
        copy_headers(answer.headers(), response_headers, &[]);
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|_| {
            error_response(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the service sent an unreadable answer",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_route_of_the_design_goes_to_ingest_and_the_api_to_its_service() {
        let upstream_of = |path: &str| {
            ROUTES.iter().find_map(|(matcher, upstream)| match matcher {
                Exact(exact) => (*exact == path).then_some(*upstream),
                Prefix(prefix) => path.starts_with(prefix).then_some(*upstream),
            })
        };
        for path in [
            "/e/",
            "/i/v0/e/",
            "/capture/",
            "/batch",
            "/v1/track",
            "/v1/batch",
            "/b",
            "/api/event",
            "/api/send",
            "/api/events",
        ] {
            assert_eq!(upstream_of(path), Some(Ingest), "{path}");
        }
        for path in [
            "/api/auth/login",
            "/api/admin/users",
            "/.well-known/jwks.json",
        ] {
            assert_eq!(upstream_of(path), Some(Auth), "{path}");
        }
        assert_eq!(upstream_of("/api/query/trends"), Some(Query));
        assert_eq!(
            upstream_of("/analytics/trends"),
            None,
            "client routes are the web app"
        );
        assert_eq!(upstream_of("/assets/boot.js"), None);
    }
}
