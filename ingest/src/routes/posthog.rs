//! PostHog capture: `/e/`, `/i/v0/e/`, `/capture/`, `/batch/`, with and without the trailing
//! slash, all one handler.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use contract::event::Rejected;
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
use crate::wire::{engagement, posthog};

/// The PostHog capture paths, with and without trailing slash. `/batch/` is the one the
/// OpenAPI document describes; the others are copies of it.
pub(crate) const PATHS: &[&str] = &[
    "/e",
    "/e/",
    "/i/v0/e",
    "/i/v0/e/",
    "/capture",
    "/capture/",
    "/batch",
    "/batch/",
];

pub(crate) fn routes() -> Router<Arc<AppState>> {
    PATHS.iter().fold(Router::new(), |router, path| {
        router.route(path, post(posthog_capture).options(preflight))
    })
}

// No doc comment: it would become the operation's summary, which the document has none of.
#[utoipa::path(
    post, path = "/batch/", tag = "ingest",
    request_body(content = Object, description = "the SDK's JSON body (gzip and form-encoded bodies are detected too)", content_type = "application/json"),
    responses(
        (status = 200, description = "stored", body = PosthogAccepted),
        BadBody,
        UnknownWriteKey,
        BatchTooLarge,
        OverProjectQuota,
        StoreUnavailable,
    )
)]
pub(crate) async fn posthog_capture(
    State(state): State<Arc<AppState>>,
    client: Client,
    body: Body,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_json(body, MAX_DECODED_BYTES).await?;
    let parsed = posthog::parse(&json)?;
    let ip = client.anonymised_ip();
    let body_token = parsed.token.as_deref();
    let project_ids = projects_of(
        &state,
        parsed
            .events
            .iter()
            .map(|raw_event| posthog::token(raw_event, body_token)),
    )?;
    // The engagement a page view brings of the page before goes after the request's events,
    // so that a refusal's index is still the position of the event in the request.
    let mut engagements = Vec::new();
    let mut outcomes: Vec<_> = parsed
        .events
        .into_iter()
        .zip(project_ids)
        .map(|(raw_event, project_id)| {
            let event =
                posthog::normalise(raw_event, project_id, parsed.sent_at, received_at, &ip)?;
            let (event, engagement) = engagement::from_posthog(event);
            engagements.extend(engagement.map(Ok));
            Ok(event)
        })
        .collect();
    outcomes.append(&mut engagements);
    let rejected = accept(&state, "posthog", outcomes, &client, None).await?;
    // PostHog SDKs expect exactly 200 {"status": 1}; 202 makes posthog-js retry.
    let answer = PosthogAccepted {
        status: 1,
        rejected,
    };
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// What PostHog's SDKs expect: exactly 200 `{"status": 1}` (202 makes posthog-js retry).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PosthogAccepted {
    /// Always 1.
    status: u8,
    /// Events refused while the others were accepted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<Rejected>,
}
