//! The intake routes: PostHog capture, with CORS that mirrors the Origin (SDKs call from any
//! site), answering only after JetStream stored every accepted event.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_nats::jetstream;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use contract::event::{Event, EventKind, NativeAccepted, Rejected};
use plumbing::error::error_response;
use serde::Serialize;
use time::OffsetDateTime;

use crate::body::{self, BodyError, MAX_RAW_BYTES};
use crate::{AppState, cookieless, enrich, posthog, segment};

/// The PostHog capture paths, with and without trailing slash.
const POSTHOG_PATHS: &[&str] = &[
    "/e",
    "/e/",
    "/i/v0/e",
    "/i/v0/e/",
    "/capture",
    "/capture/",
    "/batch",
    "/batch/",
];

/// Ingest's part of the public API description. The PostHog and Segment handlers answer on
/// several paths; each alias gets a copy of the documented operation.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(
        paths(
            posthog_capture,
            segment_track,
            segment_page,
            segment_screen,
            segment_identify,
            segment_group,
            segment_alias,
            segment_batch,
            plausible,
            umami,
            native_events,
        ),
        tags((name = "ingest", description = "Events from SDKs and from the dashboard"))
    )]
    struct ApiDoc;

    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi();
    let aliases = POSTHOG_PATHS
        .iter()
        .map(|path| ("/batch/", *path))
        .chain([("/v1/batch", "/v1/b"), ("/v1/batch", "/b")]);
    for (documented, alias) in aliases {
        if documented == alias {
            continue;
        }
        let Some(mut item) = doc.paths.paths.get(documented).cloned() else {
            continue;
        };
        if let Some(operation) = item.post.as_mut() {
            operation.operation_id = Some(format!(
                "{}_{}",
                operation.operation_id.as_deref().unwrap_or("post"),
                alias.trim_matches('/').replace('/', "_")
            ));
        }
        doc.paths.paths.insert(alias.to_owned(), item);
    }
    doc
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for path in POSTHOG_PATHS {
        router = router.route(path, post(posthog_capture).options(preflight));
    }
    router = router
        .route("/v1/track", post(segment_track).options(preflight))
        .route("/v1/page", post(segment_page).options(preflight))
        .route("/v1/screen", post(segment_screen).options(preflight))
        .route("/v1/identify", post(segment_identify).options(preflight))
        .route("/v1/group", post(segment_group).options(preflight))
        .route("/v1/alias", post(segment_alias).options(preflight))
        .route("/v1/batch", post(segment_batch).options(preflight))
        .route("/v1/b", post(segment_batch).options(preflight))
        .route("/b", post(segment_batch).options(preflight))
        .route("/api/event", post(plausible).options(preflight))
        .route("/api/send", post(umami).options(preflight));
    // The dashboard's own events: same origin, a bearer token, no CORS.
    let native = Router::new().route("/api/events", post(native_events));
    router
        .layer(axum::middleware::from_fn(mirror_cors))
        .merge(native)
        .with_state(Arc::new(state))
        .merge(plumbing::http::openapi_route(&openapi()))
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("unknown or revoked project key")]
    UnknownKey,
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("events could not be stored, retry later")]
    Unavailable(String),
    #[error("{0}")]
    OverQuota(crate::quota::OverQuota),
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        if let IngestError::OverQuota(over) = self {
            return plumbing::ratelimit::too_many_requests(over.wait, over.what);
        }
        let (status, code) = match &self {
            IngestError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            IngestError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            IngestError::UnknownKey => (StatusCode::UNAUTHORIZED, "invalid_api_key"),
            IngestError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            IngestError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            IngestError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "jetstream did not store events");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            IngestError::OverQuota(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        };
        let mut response = error_response(status, code, self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<BodyError> for IngestError {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::TooLarge(_)
            | BodyError::TooManyEvents
            | BodyError::TooMuchData
            | BodyError::EventTooLarge => IngestError::TooLarge(err.to_string()),
            BodyError::BadGzip | BodyError::BadBase64 | BodyError::Invalid(_) => {
                IngestError::BadRequest(err.to_string())
            }
        }
    }
}

#[utoipa::path(
    post, path = "/batch/", tag = "ingest",
    request_body(content = Object, description = "the SDK's JSON body (gzip and form-encoded bodies are detected too)", content_type = "application/json"),
    responses(
        (status = 200, description = "stored", body = PosthogAccepted),
        (status = 400, description = "no valid event, or a body that cannot be read", body = contract::ErrorBody),
        (status = 401, description = "unknown or revoked write key", body = contract::ErrorBody),
        (status = 413, description = "the body is larger than 1 MiB, or than 20 MiB once decompressed, or holds more than 1000 events", body = contract::ErrorBody),
        (status = 429, description = "over the project's intake quota; nothing was stored (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "events could not be stored; retry (Retry-After)", body = contract::ErrorBody)
    )
)]
async fn posthog_capture(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_body(request).await?;
    let parsed = posthog::parse(&json)?;
    let ip = anonymise(client_ip(&state, peer, &headers));
    let body_token = parsed.token.as_deref();
    let project_ids = projects_of(
        &state,
        parsed
            .events
            .iter()
            .map(|raw_event| posthog::token(raw_event, body_token)),
    )?;
    let outcomes = parsed
        .events
        .into_iter()
        .zip(project_ids)
        .map(|(raw_event, project_id)| {
            posthog::normalise(raw_event, project_id, parsed.sent_at, received_at, &ip)
        })
        .collect();
    let rejected = accept(&state, "posthog", outcomes, &headers, None).await?;
    // PostHog SDKs expect exactly 200 {"status": 1}; 202 makes posthog-js retry.
    let body = PosthogAccepted {
        status: 1,
        rejected,
    };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

async fn segment(
    state: Arc<AppState>,
    peer: SocketAddr,
    headers: HeaderMap,
    request: Body,
    kind: Option<EventKind>,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_body(request).await?;
    let parsed = segment::parse(&json, kind)?;
    let header_key = segment::basic_auth_key(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok()),
    );
    let ip = anonymise(client_ip(&state, peer, &headers));
    let project_ids = projects_of(
        &state,
        parsed.messages.iter().map(|message| {
            message
                .as_ref()
                .ok()
                .and_then(|message| message.get("writeKey"))
                .and_then(serde_json::Value::as_str)
                .or(header_key.as_deref())
                .or(parsed.write_key.as_deref())
        }),
    )?;
    let outcomes = parsed
        .messages
        .into_iter()
        .zip(project_ids)
        .map(|(message, project_id)| {
            message.and_then(|message| {
                segment::normalise(message, project_id, parsed.sent_at, received_at, &ip)
            })
        })
        .collect();
    let rejected = accept(&state, "segment", outcomes, &headers, None).await?;
    let body = SegmentAccepted {
        success: true,
        rejected,
    };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// `POST /api/events`: one event `{event, properties?, timestamp?, uuid?, project_id?}` or
/// `{batch: [...]}` from a logged-in dashboard user. Who did it comes from the verified token,
/// never from the body; without `project_id` the event goes to the built-in project.
#[utoipa::path(
    post, path = "/api/events", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, description = "one event `{event, properties?, timestamp?, uuid?, project_id?}` or `{batch: [...]}`", content_type = "application/json"),
    responses(
        (status = 200, description = "stored", body = NativeAccepted),
        (status = 400, description = "no valid event, or a body that cannot be read", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "the token's role may not send to that project", body = contract::ErrorBody),
        (status = 413, description = "the body is larger than 1 MiB, or than 20 MiB once decompressed, or holds more than 1000 events", body = contract::ErrorBody),
        (status = 429, description = "over the project's intake quota, or the user's byte budget; nothing was stored (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "events could not be stored; retry (Retry-After)", body = contract::ErrorBody)
    )
)]
async fn native_events(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, IngestError> {
    let claims =
        match plumbing::jwt::authorize(&headers, &state.tokens, contract::auth::Role::User).await {
            Ok(claims) => claims,
            Err(refused) => return Ok(refused),
        };
    let received_at = OffsetDateTime::now_utc();
    let json = read_body(request).await?;
    let parsed = posthog::parse(&json)?;
    let ip = anonymise(client_ip(&state, peer, &headers));
    let mut outcomes = Vec::with_capacity(parsed.events.len());
    for raw in parsed.events {
        let posthog::RawEvent::Object(mut object) = raw else {
            outcomes.push(Err("an event must be a JSON object".to_owned()));
            continue;
        };
        let project_id = match object.project_id.take() {
            None | Some(posthog::Field::Null) => contract::BUILTIN_PROJECT_ID,
            Some(posthog::Field::Str(id)) => uuid::Uuid::parse_str(&id)
                .map_err(|_| IngestError::BadRequest("project_id: must be a UUID".to_owned()))?,
            Some(_) => {
                return Err(IngestError::BadRequest(
                    "project_id: must be a UUID".to_owned(),
                ));
            }
        };
        if project_id != contract::BUILTIN_PROJECT_ID {
            if !claims.role.includes(contract::auth::Role::Admin) {
                return Err(IngestError::Forbidden(
                    "only admins send events to other projects".to_owned(),
                ));
            }
            if !state.write_keys.has_project(project_id) {
                return Err(IngestError::BadRequest(
                    "project_id: no such project".to_owned(),
                ));
            }
        }
        object.distinct_id = Some(posthog::Field::Str(claims.sub.to_string().into()));
        let outcome = posthog::normalise(
            posthog::RawEvent::Object(object),
            project_id,
            parsed.sent_at,
            received_at,
            &ip,
        )
        .map(|mut event| {
            event.user_id = Some(claims.sub);
            if event.context.lib.is_empty() {
                event.context.lib = "event-analytics".to_owned();
            }
            event
        });
        outcomes.push(outcome);
    }
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    let rejected = accept(&state, "native", outcomes, &headers, Some(claims.sub)).await?;
    let body = NativeAccepted { accepted, rejected };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// The client: the socket's peer, or whom a trusted proxy (the edge) names.
fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    state.trusted_proxies.client_ip(peer.ip(), headers)
}

/// The project of each event's write key (`None`: the event names none), in order. A batch
/// names one key, so the last key's project is kept at hand instead of looked up for every
/// event.
fn projects_of<'k>(
    state: &AppState,
    keys: impl ExactSizeIterator<Item = Option<&'k str>>,
) -> Result<Vec<uuid::Uuid>, IngestError> {
    let mut projects = Vec::with_capacity(keys.len());
    let mut last: Option<(&str, uuid::Uuid)> = None;
    for key in keys {
        let key = key.ok_or(IngestError::UnknownKey)?;
        let project_id = match last {
            Some((last_key, project_id)) if last_key == key => project_id,
            _ => {
                let project_id = state
                    .write_keys
                    .project(key)
                    .ok_or(IngestError::UnknownKey)?;
                last = Some((key, project_id));
                project_id
            }
        };
        projects.push(project_id);
    }
    Ok(projects)
}

/// Script events carry no key (a page's script is public, and Umami's `website` is the project
/// id), so a project takes them only from the sites its admin listed: refused with 403 for a
/// project without domains, or from a page whose host is not one of them. Both scripts handle
/// an error answer by dropping the event (Umami reads the JSON, Plausible ignores the body).
fn site_allowed(state: &AppState, project_id: uuid::Uuid, host: &str) -> Result<(), IngestError> {
    if !state.write_keys.has_domains(project_id) {
        return Err(IngestError::Forbidden(
            "this project takes no script events: its admin has listed no site domains".to_owned(),
        ));
    }
    if !state.write_keys.accepts_host(project_id, host) {
        return Err(IngestError::Forbidden(format!(
            "the page's host {host:?} is not one of the project's domains"
        )));
    }
    Ok(())
}

/// The cookieless visitor id of the request's client on `project_id`, under the salt of the
/// day it was received; 503 when no salt can be had (JetStream is down).
async fn visitor(
    state: &AppState,
    project_id: uuid::Uuid,
    peer: SocketAddr,
    headers: &HeaderMap,
    received_at: OffsetDateTime,
) -> Result<String, IngestError> {
    let salt = state
        .salts
        .for_day(received_at.date())
        .await
        .map_err(|err| IngestError::Unavailable(err.to_string()))?;
    Ok(cookieless::daily_visitor(
        &salt,
        project_id,
        &client_ip(state, peer, headers).to_string(),
        user_agent(headers),
    ))
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// Plausible's `POST /api/event`: answers 202, as Plausible does.
#[utoipa::path(
    post, path = "/api/event", tag = "ingest",
    request_body(content = Object, description = "the SDK's JSON body (gzip and form-encoded bodies are detected too)", content_type = "application/json"),
    responses(
        (status = 202, description = "stored", body = String, content_type = "text/plain"),
        (status = 400, description = "no valid event, or a body that cannot be read", body = contract::ErrorBody),
        (status = 401, description = "no project lists the domain", body = contract::ErrorBody),
        (status = 403, description = "the page's host is not one of the project's domains", body = contract::ErrorBody),
        (status = 413, description = "the body is larger than 1 MiB, or than 32 KiB once decompressed", body = contract::ErrorBody),
        (status = 429, description = "over the project's intake quota; nothing was stored (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "events could not be stored; retry (Retry-After)", body = contract::ErrorBody)
    )
)]
async fn plausible(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_body_within(request, posthog::MAX_EVENT_BYTES).await?;
    let parsed = cookieless::parse_plausible(&json).map_err(IngestError::BadRequest)?;
    let project_id = parsed
        .domains
        .iter()
        .find_map(|domain| state.write_keys.project_for_domain(domain))
        .ok_or(IngestError::UnknownKey)?;
    site_allowed(&state, project_id, &posthog::split_url(&parsed.url).0)?;
    let visitor = visitor(&state, project_id, peer, &headers, received_at).await?;
    let event = cookieless::plausible_event(
        parsed,
        project_id,
        visitor,
        received_at,
        &anonymise(client_ip(&state, peer, &headers)),
    );
    accept(&state, "plausible", vec![Ok(event)], &headers, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "text/plain")],
        "ok",
    )
        .into_response())
}

/// Umami's `POST /api/send`.
#[utoipa::path(
    post, path = "/api/send", tag = "ingest",
    request_body(content = Object, description = "the SDK's JSON body (gzip and form-encoded bodies are detected too)", content_type = "application/json"),
    responses(
        (status = 200, description = "stored", body = UmamiAccepted),
        (status = 400, description = "no valid event, or a body that cannot be read", body = contract::ErrorBody),
        (status = 401, description = "the website is no project", body = contract::ErrorBody),
        (status = 403, description = "the project lists no site domains, or the page's host is not one of them", body = contract::ErrorBody),
        (status = 413, description = "the body is larger than 1 MiB, or than 32 KiB once decompressed", body = contract::ErrorBody),
        (status = 429, description = "over the project's intake quota; nothing was stored (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "events could not be stored; retry (Retry-After)", body = contract::ErrorBody)
    )
)]
async fn umami(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_body_within(request, posthog::MAX_EVENT_BYTES).await?;
    let parsed = cookieless::parse_umami(&json).map_err(IngestError::BadRequest)?;
    if !state.write_keys.has_project(parsed.website) {
        return Err(IngestError::UnknownKey);
    }
    site_allowed(&state, parsed.website, &parsed.host())?;
    let visitor = visitor(&state, parsed.website, peer, &headers, received_at).await?;
    let event = cookieless::umami_event(
        parsed,
        visitor,
        received_at,
        &anonymise(client_ip(&state, peer, &headers)),
    );
    accept(&state, "umami", vec![event], &headers, None).await?;
    Ok((StatusCode::OK, axum::Json(UmamiAccepted { ok: true })).into_response())
}

macro_rules! segment_route {
    ($name:ident, $path:literal, $kind:expr) => {
        #[utoipa::path(
            post, path = $path, tag = "ingest",
            request_body(content = Object, description = "the SDK's JSON body (gzip and form-encoded bodies are detected too)", content_type = "application/json"),
            responses(
                (status = 200, description = "stored", body = SegmentAccepted),
                (status = 400, description = "no valid event, or a body that cannot be read", body = contract::ErrorBody),
        (status = 401, description = "unknown or revoked write key", body = contract::ErrorBody),
        (status = 413, description = "the body is larger than 1 MiB, or than 20 MiB once decompressed, or holds more than 1000 events", body = contract::ErrorBody),
        (status = 429, description = "over the project's intake quota; nothing was stored (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "events could not be stored; retry (Retry-After)", body = contract::ErrorBody)
            )
        )]
        async fn $name(
            State(state): State<Arc<AppState>>,
            ConnectInfo(peer): ConnectInfo<SocketAddr>,
            headers: HeaderMap,
            request: Body,
        ) -> Result<Response, IngestError> {
            segment(state, peer, headers, request, $kind).await
        }
    };
}

segment_route!(segment_track, "/v1/track", Some(EventKind::Track));
segment_route!(segment_page, "/v1/page", Some(EventKind::Page));
segment_route!(segment_screen, "/v1/screen", Some(EventKind::Screen));
segment_route!(segment_identify, "/v1/identify", Some(EventKind::Identify));
segment_route!(segment_group, "/v1/group", Some(EventKind::Group));
segment_route!(segment_alias, "/v1/alias", Some(EventKind::Alias));
segment_route!(segment_batch, "/v1/batch", None);

/// What PostHog's SDKs expect: exactly 200 `{"status": 1}` (202 makes posthog-js retry).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PosthogAccepted {
    /// Always 1.
    pub status: u8,
    /// Events refused while the others were accepted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejected>,
}

/// What Segment's SDKs expect.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentAccepted {
    /// Always true.
    pub success: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejected>,
}

/// What Umami's script expects.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UmamiAccepted {
    /// Always true.
    pub ok: bool,
}

/// Publishes the valid events and returns the invalid ones, each with its index and the
/// reason; a request with nothing valid is a 400 that names the first problem. The valid ones
/// are charged to their projects' quotas (and a dashboard `user`'s byte budget) first: over
/// one, nothing is published.
async fn accept(
    state: &AppState,
    route: &'static str,
    outcomes: Vec<Result<Event, String>>,
    headers: &HeaderMap,
    user: Option<uuid::Uuid>,
) -> Result<Vec<Rejected>, IngestError> {
    let request_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let mut batch = Encoded::with_capacity(outcomes.len());
    let mut agents = enrich::UserAgents::default();
    let mut rejected = Vec::new();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(mut event) => {
                agents.enrich(&mut event, request_agent);
                if let Err(error) = batch.push(&event) {
                    rejected.push(Rejected { index, error });
                }
            }
            Err(error) => rejected.push(Rejected { index, error }),
        }
    }
    count(state, route, "rejected", rejected.len());
    if batch.events.is_empty() {
        let first = rejected
            .first()
            .map_or("the request holds no event", |r| r.error.as_str());
        return Err(IngestError::BadRequest(format!("no valid event: {first}")));
    }
    let accepted = batch.events.len();
    // EVENTS keeps a message only for the consumers it has: published before the sink's
    // consumer exists (the first start, or NATS being set up again), an event would reach the
    // history but never ClickHouse. Refuse it like any moment JetStream cannot take it.
    if !state.jetstream.is_provisioned() {
        count(state, route, "unavailable", accepted);
        return Err(IngestError::Unavailable(
            "the streams are not provisioned yet".to_owned(),
        ));
    }
    state
        .quotas
        .charge(&state.write_keys, &batch.usage, user)
        .map_err(IngestError::OverQuota)
        .inspect_err(|_| count(state, route, "over_quota", accepted))?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        for event in &batch.events {
            // Inside the request span: request id and trace id stand next to the event id.
            tracing::debug!(event_id = %event.event_id, subject = %event.subject, "publishing event");
        }
    }
    publish(&state.publisher, batch, &Trace::of(headers))
        .await
        .inspect_err(|_| count(state, route, "unavailable", accepted))?;
    count(state, route, "accepted", accepted);
    Ok(rejected)
}

/// The JSON text of a request: read within the limit, ungzipped, unwrapped from forms.
async fn read_body(request: Body) -> Result<Vec<u8>, IngestError> {
    read_body_within(request, body::MAX_DECODED_BYTES).await
}

/// [`read_body`] for a route that takes one event: at most `max_bytes` once decoded.
async fn read_body_within(request: Body, max_bytes: usize) -> Result<Vec<u8>, IngestError> {
    Ok(body::decode_within(
        &read_limited(request).await?,
        max_bytes,
    )?)
}

/// Reads at most [`MAX_RAW_BYTES`]. An oversized body is read on (and dropped) up to a bound,
/// so the client, still sending, gets the 413 instead of a broken connection.
async fn read_limited(body: Body) -> Result<Vec<u8>, IngestError> {
    use futures_util::StreamExt as _;

    const DRAIN_BYTES: usize = 16 * MAX_RAW_BYTES;
    let mut stream = body.into_data_stream();
    let mut raw = Vec::new();
    let mut seen = 0_usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| IngestError::BadRequest("the body could not be read".to_owned()))?;
        seen += chunk.len();
        if seen <= MAX_RAW_BYTES {
            raw.extend_from_slice(&chunk);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    if seen > MAX_RAW_BYTES {
        return Err(IngestError::TooLarge(format!(
            "the body is larger than {MAX_RAW_BYTES} bytes"
        )));
    }
    Ok(raw)
}

/// A request's events ready to publish: serialised once, for the size check and for the
/// stream, one after the other into one buffer that every message shares.
#[derive(Debug, Default)]
pub struct Encoded {
    payloads: Vec<u8>,
    events: Vec<EncodedEvent>,
    /// The subjects of this request so far: one or two, for a request of one project.
    subjects: Vec<(uuid::Uuid, EventKind, async_nats::Subject)>,
    /// Events and bytes by project, for the intake quotas.
    usage: crate::quota::Usage,
}

/// One event of [`Encoded`]: its payload is `payloads[start..end]`.
#[derive(Debug)]
struct EncodedEvent {
    subject: async_nats::Subject,
    event_id: uuid::Uuid,
    start: usize,
    end: usize,
}

impl Encoded {
    pub fn with_capacity(events: usize) -> Self {
        Self {
            // About what a small browser event takes.
            payloads: Vec::with_capacity(events * 512),
            events: Vec::with_capacity(events),
            subjects: Vec::new(),
            usage: crate::quota::Usage::default(),
        }
    }

    /// Serialises `event`; an event over [`posthog::MAX_EVENT_BYTES`] is refused.
    pub fn push(&mut self, event: &Event) -> Result<(), String> {
        let start = self.payloads.len();
        if let Err(err) = serde_json::to_writer(&mut self.payloads, event) {
            self.payloads.truncate(start);
            return Err(format!("cannot encode the event: {err}"));
        }
        if self.payloads.len() - start > posthog::MAX_EVENT_BYTES {
            self.payloads.truncate(start);
            return Err(format!(
                "an event must be at most {} bytes",
                posthog::MAX_EVENT_BYTES
            ));
        }
        let known = self
            .subjects
            .iter()
            .find(|(project_id, kind, _)| *project_id == event.project_id && *kind == event.kind);
        let subject = match known {
            Some((_, _, subject)) => subject.clone(),
            None => {
                let subject = async_nats::Subject::from(contract::streams::event_subject(
                    &event.project_id.to_string(),
                    event.kind.as_str(),
                ));
                self.subjects
                    .push((event.project_id, event.kind, subject.clone()));
                subject
            }
        };
        self.events.push(EncodedEvent {
            subject,
            event_id: event.event_id,
            start,
            end: self.payloads.len(),
        });
        self.usage
            .add(event.project_id, self.payloads.len() - start);
        Ok(())
    }
}

/// The request's id and trace context, copied into the headers of every message it publishes,
/// so an event can be followed from the browser to ClickHouse in the logs.
#[derive(Debug, Default)]
pub struct Trace {
    request_id: Option<String>,
    traceparent: Option<String>,
}

impl Trace {
    pub fn of(headers: &HeaderMap) -> Self {
        let text = |name: &axum::http::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            request_id: text(&plumbing::http::REQUEST_ID),
            traceparent: text(&plumbing::http::TRACEPARENT),
        }
    }
}

/// Acks awaited at most at once per NATS connection (async-nats' default).
const MAX_ACKS_IN_FLIGHT: usize = 5_000;

/// The context events are published with. It refuses a publish when `MAX_ACKS_IN_FLIGHT` acks
/// are pending instead of waiting for a free slot: requests that each hold unawaited acks and
/// all wait for a slot would wait for each other (eight requests of 1000 events did, until
/// edge's timeout), so [`publish`] frees its own slots instead.
pub fn publisher(client: &async_nats::Client) -> jetstream::Context {
    jetstream::context::ContextBuilder::new()
        .max_ack_inflight(MAX_ACKS_IN_FLIGHT)
        .backpressure_on_inflight(false)
        .build(client.clone())
}

/// Publishes `events` and waits for every ack: the request's 2xx means JetStream stored them.
/// Publishes are pipelined; when the connection's in-flight limit is reached, the oldest of
/// this request's own acks is awaited first, which frees a slot.
pub async fn publish(
    js: &jetstream::Context,
    batch: Encoded,
    trace: &Trace,
) -> Result<(), IngestError> {
    // The custom header names as static bytes, rather than parsed and copied per message.
    const REQUEST_ID: async_nats::HeaderName =
        async_nats::HeaderName::from_static(contract::streams::REQUEST_ID_HEADER);
    const TRACEPARENT: async_nats::HeaderName =
        async_nats::HeaderName::from_static(contract::streams::TRACEPARENT_HEADER);
    let unavailable = |err: &dyn std::fmt::Display| IngestError::Unavailable(err.to_string());
    let payloads = axum::body::Bytes::from(batch.payloads);
    let mut acks = std::collections::VecDeque::with_capacity(batch.events.len());
    for event in batch.events {
        let payload = payloads.slice(event.start..event.end);
        let mut id = uuid::Uuid::encode_buffer();
        let id: &str = event.event_id.hyphenated().encode_lower(&mut id);
        // Built again for a second try: the first is consumed by the refused publish.
        let message = || {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
            if let Some(request_id) = &trace.request_id {
                headers.insert(REQUEST_ID, request_id.as_str());
            }
            if let Some(traceparent) = &trace.traceparent {
                headers.insert(TRACEPARENT, traceparent.as_str());
            }
            // A clone shares the payloads' bytes.
            jetstream::message::PublishMessage::build()
                .payload(payload.clone())
                .headers(headers)
        };
        loop {
            match js.send_publish(event.subject.clone(), message()).await {
                Ok(ack) => {
                    acks.push_back(ack);
                    break;
                }
                Err(err) if err.kind() == jetstream::context::PublishErrorKind::MaxAckPending => {
                    match acks.pop_front() {
                        Some(ack) => {
                            ack.await.map_err(|err| unavailable(&err))?;
                        }
                        // Every slot is another request's: they free them as their acks come.
                        None => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
                    }
                }
                Err(err) => return Err(unavailable(&err)),
            }
        }
    }
    for ack in acks {
        ack.await.map_err(|err| unavailable(&err))?;
    }
    Ok(())
}

/// The client address with its last octet (IPv4) or last 80 bits (IPv6) zeroed.
pub fn anonymise(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            std::net::Ipv4Addr::new(a, b, c, 0).to_string()
        }
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            for segment in &mut segments[3..] {
                *segment = 0;
            }
            std::net::Ipv6Addr::from(segments).to_string()
        }
    }
}

/// The `route` label values of `ingest_events_total`: the wire formats.
pub const ROUTES_COUNTED: &[&str] = &["posthog", "segment", "plausible", "umami", "native"];

/// The `result` label values of `ingest_events_total`: `over_quota` counts the valid events of
/// requests refused by an intake quota.
pub const RESULTS_COUNTED: &[&str] = &["accepted", "rejected", "over_quota", "unavailable"];

fn count(state: &AppState, route: &'static str, result: &str, n: usize) {
    // Every series exists from the start: adding nothing changes nothing.
    if n == 0 {
        return;
    }
    state
        .metrics
        .events
        .get_or_create(&vec![
            ("route", route.to_owned()),
            ("result", result.to_owned()),
        ])
        .inc_by(n as u64);
}

async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// SDK routes are called from any site: the Origin is mirrored, and preflights answered.
async fn mirror_cors(request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let is_preflight = request.method() == Method::OPTIONS;
    let requested_headers = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned();
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if is_preflight {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, OPTIONS"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                requested_headers.unwrap_or_else(|| HeaderValue::from_static("content-type")),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_anonymised() {
        assert_eq!(
            anonymise("203.0.113.77".parse().expect("ip")),
            "203.0.113.0"
        );
        assert_eq!(
            anonymise("2001:db8:85a3:1234:5678:8a2e:370:7334".parse().expect("ip")),
            "2001:db8:85a3::"
        );
    }
}
