//! `GET /api/query/live`: the live feed as Server-Sent Events.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use plumbing::error::QueryParams;

use super::{ScopeParams, refuse};
use crate::error::ScopeErrors;
use crate::extract::Caller;
use crate::live::Feed;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/query/live",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams),
    responses(
        (
            status = 200,
            description = "Server-Sent Events: `event` messages carry an event envelope as published; every 5 seconds an `active_users` message carries `ActiveUsers`. The feed ends when the token it was opened with expires, or when the caller is disabled, erased or removed from the project's members, after an `end` message carrying `LiveEnd`; open it again with a fresh token.",
            content_type = "text/event-stream",
            body = String
        ),
        ScopeErrors,
    )
)]
pub(crate) async fn live(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
) -> Response {
    let opened = async {
        let scope = scope.check(&state, &caller)?;
        Feed::open(
            &state.nats,
            &state.store,
            &state.projects,
            scope.project,
            &caller,
            scope.include_bots,
        )
        .await
    }
    .await;
    let feed = match opened {
        Ok(feed) => feed,
        Err(err) => return refuse(&state, err),
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let message = feed.next().await?;
        let event = SseEvent::default().event(message.name).data(message.data);
        Some((Ok::<_, Infallible>(event), feed))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
