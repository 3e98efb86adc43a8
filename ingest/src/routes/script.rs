//! The scripts' intake: Plausible's `POST /api/event` and Umami's `POST /api/send`. They send
//! no key, so a project takes their events only from the sites its admin listed, and their
//! visitors get a cookieless id.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use time::OffsetDateTime;

use crate::body::MAX_EVENT_BYTES;
use crate::enrich::visitor::daily_visitor;
use crate::error::{BadBody, EventTooLarge, IngestError, OverProjectQuota, StoreUnavailable};
use crate::extract::Client;
use crate::routes::cors::preflight;
use crate::routes::intake::{accept, read_json};
use crate::state::AppState;
use crate::wire::script;
use crate::wire::urls::split_url;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/event", post(plausible).options(preflight))
        .route("/api/send", post(umami).options(preflight))
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
/// day it was received, once the page's `host` is one of the project's sites; 503 when no salt
/// can be had (JetStream is down).
async fn visitor_on_site(
    state: &AppState,
    client: &Client,
    project_id: uuid::Uuid,
    host: &str,
    received_at: OffsetDateTime,
) -> Result<String, IngestError> {
    site_allowed(state, project_id, host)?;
    let salt = state
        .salts
        .for_day(received_at.date())
        .await
        .map_err(|err| IngestError::Unavailable(err.to_string()))?;
    Ok(daily_visitor(
        &salt,
        project_id,
        &client.ip.to_string(),
        client.user_agent(),
    ))
}

/// Plausible's `POST /api/event`: answers 202, as Plausible does.
#[utoipa::path(
    post, path = "/api/event", tag = "ingest",
    request_body(content = Object, description = "the SDK's JSON body (gzip and form-encoded bodies are detected too)", content_type = "application/json"),
    responses(
        (status = 202, description = "stored", body = String, content_type = "text/plain"),
        BadBody,
        (status = 401, description = "no project lists the domain", body = contract::ErrorBody),
        (status = 403, description = "the page's host is not one of the project's domains", body = contract::ErrorBody),
        EventTooLarge,
        OverProjectQuota,
        StoreUnavailable,
    )
)]
pub(crate) async fn plausible(
    State(state): State<Arc<AppState>>,
    client: Client,
    body: Body,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_json(body, MAX_EVENT_BYTES).await?;
    let parsed = script::parse_plausible(&json).map_err(IngestError::BadRequest)?;
    let project_id = parsed
        .domains
        .iter()
        .find_map(|domain| state.write_keys.project_for_domain(domain))
        .ok_or(IngestError::UnknownKey)?;
    let host = split_url(&parsed.url).0;
    let visitor = visitor_on_site(&state, &client, project_id, &host, received_at).await?;
    let event = script::plausible_event(
        parsed,
        project_id,
        visitor,
        received_at,
        &client.anonymised_ip(),
    );
    accept(&state, "plausible", vec![Ok(event)], &client, None).await?;
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
        BadBody,
        (status = 401, description = "the website is no project", body = contract::ErrorBody),
        (status = 403, description = "the project lists no site domains, or the page's host is not one of them", body = contract::ErrorBody),
        EventTooLarge,
        OverProjectQuota,
        StoreUnavailable,
    )
)]
pub(crate) async fn umami(
    State(state): State<Arc<AppState>>,
    client: Client,
    body: Body,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_json(body, MAX_EVENT_BYTES).await?;
    let parsed = script::parse_umami(&json).map_err(IngestError::BadRequest)?;
    if !state.write_keys.has_project(parsed.website) {
        return Err(IngestError::UnknownKey);
    }
    let visitor =
        visitor_on_site(&state, &client, parsed.website, &parsed.host(), received_at).await?;
    let event = script::umami_event(parsed, visitor, received_at, &client.anonymised_ip());
    accept(&state, "umami", vec![event], &client, None).await?;
    Ok((StatusCode::OK, axum::Json(UmamiAccepted { ok: true })).into_response())
}

/// What Umami's script expects.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UmamiAccepted {
    /// Always true.
    ok: bool,
}
