//! The Segment HTTP tracking API: one route per call type, and the batch routes.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use contract::event::{EventKind, Rejected};
use serde::Serialize;
use time::OffsetDateTime;

use crate::body::MAX_DECODED_BYTES;
use crate::error::{
    BadBody, BatchTooLarge, IngestError, OverProjectQuota, StoreUnavailable, UnknownWriteKey,
};
use crate::extract::Client;
use crate::routes::cors::preflight;
use crate::routes::intake::{accept, projects_of, read_json};
use crate::state::AppState;
use crate::wire::segment;

/// The paths `segment_batch` also answers on, besides `/v1/batch`; the OpenAPI document
/// copies its operation to each.
pub(crate) const BATCH_ALIASES: &[&str] = &["/v1/b", "/b"];

/// The one-letter paths analytics.js (`@segment/analytics-next`) sends each call to by
/// default, beside the documented ones they stand for; the OpenAPI document copies each
/// operation to its alias.
pub(crate) const SHORT_ALIASES: &[(&str, &str)] = &[
    ("/v1/track", "/v1/t"),
    ("/v1/page", "/v1/p"),
    ("/v1/screen", "/v1/s"),
    ("/v1/identify", "/v1/i"),
    ("/v1/group", "/v1/g"),
    ("/v1/alias", "/v1/a"),
];

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for (path, short) in SHORT_ALIASES.iter().copied() {
        let call = match path {
            "/v1/track" => post(segment_track),
            "/v1/page" => post(segment_page),
            "/v1/screen" => post(segment_screen),
            "/v1/identify" => post(segment_identify),
            "/v1/group" => post(segment_group),
            _ => post(segment_alias),
        }
        .options(preflight);
        router = router.route(path, call.clone()).route(short, call);
    }
    let router = router.route("/v1/batch", post(segment_batch).options(preflight));
    BATCH_ALIASES.iter().fold(router, |router, path| {
        router.route(path, post(segment_batch).options(preflight))
    })
}

/// One call of `kind` (`None`: a batch), its write key from `Authorization: Basic`, the
/// body or each message.
async fn segment(
    state: Arc<AppState>,
    client: Client,
    body: Body,
    kind: Option<EventKind>,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_json(body, MAX_DECODED_BYTES).await?;
    let parsed = segment::parse(&json, kind)?;
    let header_key = segment::basic_auth_key(
        client
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok()),
    );
    let ip = client.anonymised_ip();
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
    let rejected = accept(&state, "segment", outcomes, &client, None).await?;
    let answer = SegmentAccepted {
        success: true,
        rejected,
    };
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// A handler and its OpenAPI operation for the Segment route `$path`, which takes calls of
/// `$kind`.
macro_rules! segment_route {
    ($name:ident, $path:literal, $kind:expr) => {
        #[utoipa::path(
            post, path = $path, tag = "ingest",
            request_body(content = Object, description = "the SDK's JSON body (gzip and form-encoded bodies are detected too)", content_type = "application/json"),
            responses(
                (status = 200, description = "stored", body = SegmentAccepted),
                BadBody,
                UnknownWriteKey,
                BatchTooLarge,
                OverProjectQuota,
                StoreUnavailable,
            )
        )]
        pub(crate) async fn $name(
            State(state): State<Arc<AppState>>,
            client: Client,
            body: Body,
        ) -> Result<Response, IngestError> {
            segment(state, client, body, $kind).await
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

/// What Segment's SDKs expect.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SegmentAccepted {
    /// Always true.
    success: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<Rejected>,
}
