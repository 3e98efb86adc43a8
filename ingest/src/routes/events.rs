//! The dashboard's own events, `POST /api/events`: same origin, a bearer token, no CORS. The
//! body is PostHog's capture format; who did it comes from the token.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use contract::auth::{Claims, Role};
use contract::event::NativeAccepted;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::body::MAX_DECODED_BYTES;
use crate::error::{BadBody, BatchTooLarge, IngestError, OverProjectOrUserQuota, StoreUnavailable};
use crate::extract::{Client, User};
use crate::routes::intake::{accept, read_json};
use crate::state::AppState;
use crate::wire::capture::{Field, Fields, RawEvent};
use crate::wire::posthog;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/events", post(native_events))
}

/// `POST /api/events`: one event `{event, properties?, timestamp?, uuid?, project_id?}` or
/// `{batch: [...]}` from a logged-in dashboard user. Who did it comes from the verified token,
/// never from the body; without `project_id` the event goes to the built-in project.
#[utoipa::path(
    post, path = "/api/events", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, description = "one event `{event, properties?, timestamp?, uuid?, project_id?}` or `{batch: [...]}`", content_type = "application/json"),
    responses(
        (status = 200, description = "stored", body = NativeAccepted),
        BadBody,
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "the token's role may not send to that project", body = contract::ErrorBody),
        BatchTooLarge,
        OverProjectOrUserQuota,
        StoreUnavailable,
    )
)]
pub(crate) async fn native_events(
    User(claims): User,
    State(state): State<Arc<AppState>>,
    client: Client,
    body: Body,
) -> Result<Response, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let json = read_json(body, MAX_DECODED_BYTES).await?;
    let parsed = posthog::parse(&json)?;
    let ip = client.anonymised_ip();
    let mut outcomes = Vec::with_capacity(parsed.events.len());
    for raw in parsed.events {
        let RawEvent::Object(mut object) = raw else {
            outcomes.push(Err("an event must be a JSON object".to_owned()));
            continue;
        };
        let project_id = target_project(&state, &claims, &mut object)?;
        object.distinct_id = Some(Field::Str(claims.sub.to_string().into()));
        let outcome = posthog::normalise(
            RawEvent::Object(object),
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
    let rejected = accept(&state, "native", outcomes, &client, Some(claims.sub)).await?;
    let answer = NativeAccepted { accepted, rejected };
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// The project an event names in `project_id` (taken out of it), else the built-in one. Only
/// admins send to other projects, and only to projects that exist: either refuses the request.
fn target_project(
    state: &AppState,
    claims: &Claims,
    object: &mut Fields<'_>,
) -> Result<Uuid, IngestError> {
    let project_id = match object.project_id.take() {
        None | Some(Field::Null) => contract::BUILTIN_PROJECT_ID,
        Some(Field::Str(id)) => Uuid::parse_str(&id)
            .map_err(|_| IngestError::BadRequest("project_id: must be a UUID".to_owned()))?,
        Some(_) => {
            return Err(IngestError::BadRequest(
                "project_id: must be a UUID".to_owned(),
            ));
        }
    };
    if project_id != contract::BUILTIN_PROJECT_ID {
        if !claims.role.includes(Role::Admin) {
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
    Ok(project_id)
}
