//! Forwarding API and SDK calls to the services: one routing table that says, per route, which
//! service answers, who may call it and how often; tokens verified and rates limited before a
//! request leaves the edge; bodies streamed both ways (so Server-Sent Events pass through as they
//! are written); upstream down → 503 JSON, upstream too slow → 504 JSON. The system status is
//! the one route edge answers itself, behind the same checks.

use std::future::Future as _;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{any, get};
use axum::{BoxError, Router};
use contract::auth::Role;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use plumbing::error::error_response;
use plumbing::forwarded::TrustedProxies;
use plumbing::jwt::JwksVerifier;
use plumbing::ratelimit::{RateLimiter, too_many_requests};

use crate::body_limit;
use crate::connector::Connector;

/// Who answers a route: a service behind edge, or edge itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Auth,
    Ingest,
    Query,
    /// Edge answers itself (`GET /api/admin/status`, from what it asks the services).
    Edge,
}

impl Upstream {
    /// The services edge forwards to.
    pub const SERVICES: [Upstream; 3] = [Upstream::Auth, Upstream::Ingest, Upstream::Query];

    /// The largest request body the service reads; edge refuses a larger one itself (see
    /// [`crate::body_limit`]).
    pub const fn max_body_bytes(self) -> usize {
        match self {
            Ingest => contract::event::MAX_REQUEST_BYTES,
            Auth | Query | Edge => crate::body_limit::SERVICE_JSON_BYTES,
        }
    }
}

/// How a route's path matches.
#[derive(Debug, Clone, Copy)]
pub enum PathMatch {
    Exact(&'static str),
    /// Every path under this one.
    Prefix(&'static str),
}

/// Who may call a route. The service behind checks the same token again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; SDK routes carry a write key that ingest checks.
    Public,
    /// A valid access token whose role includes this one.
    Token(Role),
}

/// How often a route may be called, and counted by what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    /// Per client address, and per account named by the body's `email`.
    Credentials,
    /// Per client address.
    Client,
    /// Per user (the token's subject).
    User,
}

/// One row of the routing table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub path: PathMatch,
    /// Methods the service answers; others get 405 from edge, never reaching it.
    pub methods: &'static [Method],
    pub upstream: Upstream,
    pub access: Access,
    pub limit: Limit,
}

impl Route {
    /// The largest request body the route takes: the service's, or for logins and
    /// registrations what edge reads to find the account they name.
    pub const fn max_body_bytes(&self) -> usize {
        match self.limit {
            Credentials => MAX_CREDENTIALS_BYTES,
            Unlimited | Client | User => self.upstream.max_body_bytes(),
        }
    }
}

const GET: &[Method] = &[Method::GET, Method::HEAD];
const POST: &[Method] = &[Method::POST];
/// SDKs in browsers may send a CORS preflight first.
const SDK: &[Method] = &[Method::POST, Method::OPTIONS];
const QUERY: &[Method] = &[Method::GET, Method::HEAD, Method::POST];
const ADMIN: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

use Access::{Public, Token};
use Limit::{Client, Credentials, Unlimited, User};
use PathMatch::{Exact, Prefix};
use Upstream::{Auth, Edge, Ingest, Query};

const fn route(
    path: PathMatch,
    methods: &'static [Method],
    upstream: Upstream,
    access: Access,
    limit: Limit,
) -> Route {
    Route {
        path,
        methods,
        upstream,
        access,
        limit,
    }
}

/// The routing table. Other `/api/` paths are 404; everything else is the web app.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    // Accounts and sessions, and the keys services verify tokens with.
    route(Exact("/api/auth/login"),           POST,  Auth,   Public,                Credentials),
    route(Exact("/api/auth/register"),        POST,  Auth,   Public,                Credentials),
    route(Exact("/api/auth/refresh"),         POST,  Auth,   Public,                Client),
    route(Exact("/api/auth/logout"),          POST,  Auth,   Public,                Unlimited),
    route(Exact("/api/auth/me"),              GET,   Auth,   Token(Role::User),     Unlimited),
    route(Exact("/api/auth/password"),        POST,  Auth,   Token(Role::User),     Client),
    route(Exact("/.well-known/jwks.json"),    GET,   Auth,   Public,                Unlimited),
    // The projects analysts pick from.
    route(Exact("/api/auth/projects"),        GET,   Auth,   Token(Role::Analyst),  User),
    // The system status, gathered by edge itself; then the rest of administration.
    route(Exact("/api/admin/status"),         GET,   Edge,   Token(Role::Admin),    Unlimited),
    route(Prefix("/api/admin/"),              ADMIN, Auth,   Token(Role::Admin),    Unlimited),
    // Events: the dashboard's own, then the SDK wire formats (DESIGN.md), limited per write
    // key by ingest.
    route(Exact("/api/events"),               POST,  Ingest, Token(Role::User),     User),
    route(Exact("/e"),                        SDK,   Ingest, Public,                Unlimited),
    route(Exact("/e/"),                       SDK,   Ingest, Public,                Unlimited),
    route(Exact("/i/v0/e"),                   SDK,   Ingest, Public,                Unlimited),
    route(Exact("/i/v0/e/"),                  SDK,   Ingest, Public,                Unlimited),
    route(Exact("/capture"),                  SDK,   Ingest, Public,                Unlimited),
    route(Exact("/capture/"),                 SDK,   Ingest, Public,                Unlimited),
    route(Exact("/batch"),                    SDK,   Ingest, Public,                Unlimited),
    route(Exact("/batch/"),                   SDK,   Ingest, Public,                Unlimited),
    route(Prefix("/v1/"),                     SDK,   Ingest, Public,                Unlimited),
    route(Exact("/b"),                        SDK,   Ingest, Public,                Unlimited),
    route(Exact("/api/event"),                SDK,   Ingest, Public,                Unlimited),
    route(Exact("/api/send"),                 SDK,   Ingest, Public,                Unlimited),
    // Analytics, and the pipeline's figures the system status shows.
    route(Exact("/api/query/system"),         GET,   Query,  Token(Role::Admin),    User),
    route(Prefix("/api/query/"),              QUERY, Query,  Token(Role::Analyst),  User),
];

/// The route of `path`, as the router picks it: an exact path before a prefix.
pub fn route_of(path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|route| matches!(route.path, Exact(exact) if exact == path))
        .or_else(|| {
            ROUTES
                .iter()
                .find(|route| matches!(route.path, Prefix(prefix) if path.starts_with(prefix)))
        })
}

/// How long edge tries to open a connection to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The client that forwards requests: hyper's pooled HTTP/1 client, which takes the request's
/// body and gives the answer's as they are, with nothing between them and the socket but
/// [`Connector`]'s care for early answers.
pub type Forwarder = hyper_util::client::legacy::Client<Connector, Body>;

/// Where each upstream is, and the clients that reach them.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// Forwards the calls of [`ROUTES`].
    forwarder: Forwarder,
    /// How long an upstream may send nothing, waiting for its answer or within it.
    timeout: Duration,
    /// Edge's own calls to the services (readiness probes, the OpenAPI parts).
    pub client: reqwest::Client,
    pub auth: String,
    pub ingest: String,
    pub query: String,
    /// The sink's health listener: nothing is forwarded there, the system status reads its
    /// `/readyz`.
    pub sink: String,
    /// The scheme and authority of the services' base URLs, in the order of
    /// [`Upstream::SERVICES`], each when its base has no path of its own: a request's URI is
    /// then these with the request's path and query, nothing parsed per request.
    parsed: [Option<(Scheme, Authority)>; 3],
}

impl Proxy {
    /// The services at their base URLs, given up on when they send nothing for `timeout`.
    pub fn new(
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
    pub fn base(&self, upstream: Upstream) -> Option<&str> {
        match upstream {
            Auth => Some(&self.auth),
            Ingest => Some(&self.ingest),
            Query => Some(&self.query),
            Edge => None,
        }
        .map(|base| base.trim_end_matches('/'))
    }
}

/// The rate limiters of [`Limit`].
#[derive(Debug)]
pub struct Limiters {
    pub credentials_per_client: RateLimiter,
    pub credentials_per_account: RateLimiter,
    pub per_user: RateLimiter,
}

/// What the gate needs: the proxy, the token verifier, who may speak for the client, limits.
#[derive(Debug)]
pub struct Gate {
    pub proxy: Proxy,
    pub tokens: JwksVerifier,
    pub trusted_proxies: TrustedProxies,
    pub limiters: Limiters,
}

/// The routes of [`ROUTES`], each checked and forwarded to its upstream, and a JSON 404 for
/// every other `/api/` path.
pub fn router(gate: Arc<Gate>) -> Router {
    let mut router = Router::new();
    for route in ROUTES {
        let handler = any(
            move |State(gate): State<Arc<Gate>>,
                  ConnectInfo(peer): ConnectInfo<SocketAddr>,
                  request: Request| async move { pass(&gate, route, peer, request).await },
        );
        router = match route.path {
            Exact(path) => router.route(path, handler),
            Prefix(prefix) => router.route(&format!("{prefix}{{*rest}}"), handler),
        };
    }
    router
        .route(
            "/api/openapi.json",
            get(|State(gate): State<Arc<Gate>>| async move {
                crate::openapi::serve_json(&gate).await
            }),
        )
        .route(
            "/api/docs",
            get(|State(gate): State<Arc<Gate>>| async move {
                crate::openapi::serve_page(&gate).await
            }),
        )
        .route(
            "/api/docs.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    crate::openapi::DOCS_CSS,
                )
            }),
        )
        .route("/api/{*rest}", any(no_such_route))
        .with_state(gate)
}

async fn no_such_route() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such API route")
}

/// The largest body edge reads to find the account a login or registration names.
const MAX_CREDENTIALS_BYTES: usize = 64 * 1024;

/// Checks `request` against its route, then forwards it.
async fn pass(gate: &Gate, route: &Route, peer: SocketAddr, request: Request) -> Response {
    let client = gate.trusted_proxies.client_ip(peer.ip(), request.headers());
    let https = gate.trusted_proxies.is_https(peer.ip(), request.headers());
    if !route.methods.contains(request.method()) {
        let allow = route
            .methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let mut refused = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this path answers {allow}"),
        );
        if let Ok(allow) = HeaderValue::from_str(&allow) {
            refused.headers_mut().insert(header::ALLOW, allow);
        }
        return refused;
    }
    let max_body_bytes = route.max_body_bytes();
    if body_limit::announced_over(request.headers(), max_body_bytes) {
        body_limit::drain(request.into_body());
        return body_limit::too_large(max_body_bytes);
    }
    let user = match route.access {
        Public => None,
        Token(role) => {
            match plumbing::jwt::authorize(request.headers(), &gate.tokens, role).await {
                Ok(claims) => Some(claims.sub),
                Err(refused) => return refused,
            }
        }
    };
    let limiters = &gate.limiters;
    if matches!(route.limit, Client | Credentials)
        && let Err(wait) = limiters.credentials_per_client.check(&client.to_string())
    {
        return too_many_requests(wait, "attempts from this address");
    }
    let request = match route.limit {
        Unlimited | Client => request,
        User => {
            let key = user.map(|id| id.to_string()).unwrap_or_default();
            if let Err(wait) = limiters.per_user.check(&key) {
                return too_many_requests(wait, "requests");
            }
            request
        }
        Credentials => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_CREDENTIALS_BYTES).await else {
                return error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is too large",
                );
            };
            // Counted per account and address together: a budget shared by every address
            // would let anyone keep it empty and lock the owner out. Guesses from many
            // addresses are auth's to slow down (see `auth::limits`).
            if let Some(account) = account_of(&bytes)
                && let Err(wait) = limiters
                    .credentials_per_account
                    .check(&format!("{account} {client}"))
            {
                return too_many_requests(wait, "attempts for this account from this address");
            }
            Request::from_parts(parts, Body::from(bytes))
        }
    };
    let mut response = match gate.proxy.base(route.upstream) {
        Some(base) => forward(&gate.proxy, route.upstream, base, client, https, request).await,
        None => crate::status::serve(gate, request.headers()).await,
    };
    if https {
        secure_for_tls(response.headers_mut());
    }
    response
}

/// The account a login or registration body names: its `email`, normalised as auth keys
/// accounts, so no spelling of one address gets a budget of its own.
fn account_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        email: String,
    }
    serde_json::from_slice::<Named>(body)
        .ok()
        .map(|named| contract::auth::normalise_email(&named.email))
}

/// Over TLS: HSTS, and every cookie `Secure`.
fn secure_for_tls(headers: &mut HeaderMap) {
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|cookie| match cookie.to_str() {
            Ok(text) if !text.to_ascii_lowercase().contains("; secure") => {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| cookie.clone())
            }
            _ => cookie.clone(),
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
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

async fn forward(
    proxy: &Proxy,
    upstream: Upstream,
    base: &str,
    client: IpAddr,
    https: bool,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    // A body that says its size was checked against the limit already (hyper holds it to what
    // it says); a chunked one is counted on the way.
    let limit = upstream.max_body_bytes();
    let (body, overflow) = body_limit::Forwarded::new(body, limit);
    let body = Body::new(body);
    let uri = match proxy.uri(upstream, base, &parts.uri) {
        Ok(uri) => uri,
        Err(err) => {
            tracing::warn!(upstream = base, error = %err, "no upstream URL for the request");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is unavailable; try again shortly",
            );
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
    let sent = tokio::time::timeout(proxy.timeout, proxy.forwarder.request(forwarded)).await;
    let answer = match sent {
        Ok(Ok(answer)) => answer,
        Err(_) => {
            tracing::warn!(upstream = base, timeout = ?proxy.timeout, "upstream too slow");
            return error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the service did not answer in time",
            );
        }
        Ok(Err(_)) if overflow.happened() => {
            return body_limit::too_large(limit);
        }
        Ok(Err(err)) => {
            // The legacy client's own message names only the kind ("client error (Connect)").
            tracing::warn!(upstream = base, error = ?err, "upstream unavailable");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is unavailable; try again shortly",
            );
        }
    };
    let (mut parts, body) = answer.into_parts();
    for name in HOP_BY_HOP {
        parts.headers.remove(*name);
    }
    Response::from_parts(parts, Body::new(IdleTimeout::new(body, proxy.timeout)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_design_goes_to_its_service_with_its_access_rule() {
        let rule = |path: &str| route_of(path).map(|route| (route.upstream, route.access));
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
        ] {
            assert_eq!(rule(path), Some((Ingest, Public)), "{path}");
        }
        assert_eq!(rule("/api/events"), Some((Ingest, Token(Role::User))));
        for path in [
            "/api/auth/login",
            "/api/auth/register",
            "/api/auth/refresh",
            "/.well-known/jwks.json",
        ] {
            assert_eq!(rule(path), Some((Auth, Public)), "{path}");
        }
        assert_eq!(rule("/api/auth/me"), Some((Auth, Token(Role::User))));
        assert_eq!(rule("/api/admin/users"), Some((Auth, Token(Role::Admin))));
        assert_eq!(rule("/api/admin/status"), Some((Edge, Token(Role::Admin))));
        assert_eq!(
            rule("/api/auth/projects"),
            Some((Auth, Token(Role::Analyst)))
        );
        assert_eq!(rule("/api/query/system"), Some((Query, Token(Role::Admin))));
        assert_eq!(
            rule("/api/query/trends"),
            Some((Query, Token(Role::Analyst)))
        );
        assert!(rule("/api/nope").is_none(), "an unknown API path is a 404");
        assert!(
            rule("/analytics/trends").is_none(),
            "client routes are the web app"
        );
        assert_eq!(
            route_of("/api/auth/login").map(|route| route.limit),
            Some(Credentials)
        );
        for path in [
            "/api/auth/projects",
            "/api/query/system",
            "/api/query/trends",
        ] {
            assert_eq!(
                route_of(path).map(|route| route.limit),
                Some(User),
                "{path}"
            );
        }
    }

    #[test]
    fn each_route_takes_the_bodies_its_service_reads() {
        let limit = |path: &str| route_of(path).map(Route::max_body_bytes);
        assert_eq!(limit("/batch/"), Some(contract::event::MAX_REQUEST_BYTES));
        assert_eq!(
            limit("/api/events"),
            Some(contract::event::MAX_REQUEST_BYTES)
        );
        assert_eq!(limit("/api/query/funnel"), Some(2 * 1024 * 1024));
        assert_eq!(limit("/api/admin/projects"), Some(2 * 1024 * 1024));
        assert_eq!(limit("/api/auth/login"), Some(MAX_CREDENTIALS_BYTES));
    }

    #[test]
    fn cookies_turn_secure_over_tls() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("refresh_token=x; HttpOnly; SameSite=Strict; Path=/api/auth"),
        );
        headers.append(header::SET_COOKIE, HeaderValue::from_static("a=b; Secure"));
        secure_for_tls(&mut headers);
        let cookies: Vec<_> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        assert_eq!(
            cookies,
            [
                "refresh_token=x; HttpOnly; SameSite=Strict; Path=/api/auth; Secure",
                "a=b; Secure"
            ]
        );
        assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert_eq!(
            account_of(br#"{"email":" Ann@Example.com ","password":"x"}"#).as_deref(),
            Some("ann@example.com")
        );
    }
}
