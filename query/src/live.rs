//! `GET /api/query/live`: a project's events as they are ingested, as Server-Sent Events, fed
//! by a NATS subscription on `events.<project_id>.>` (no polling of ClickHouse for the feed),
//! and every few seconds the number of users active in the last five minutes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use contract::query::ActiveUsers;
use futures_util::StreamExt as _;
use plumbing::error::QueryParams;
use uuid::Uuid;

use crate::api::{AppState, Params, QueryError};

/// How often the active-user count is sent.
pub const ACTIVE_USERS_EVERY: Duration = Duration::from_secs(5);

/// Users with an event in the last five minutes.
const ACTIVE_USERS: &str = "SELECT toUInt64(uniqExact(user_hash)) FROM events \
     WHERE project_id = toUUID(?) AND timestamp >= now() - 300";

#[utoipa::path(
    get,
    path = "/api/query/live",
    tag = "query",
    security(("bearer" = [])),
    params(crate::openapi::ScopeParams),
    responses(
        (
            status = 200,
            description = "Server-Sent Events: `event` messages carry an event envelope as published; every 5 seconds an `active_users` message carries `ActiveUsers`",
            content_type = "text/event-stream",
            body = String
        ),
        crate::openapi::ScopeErrors,
    )
)]
pub async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
) -> Response {
    let scope = match state.scope(&headers, &params).await {
        Ok(scope) => scope,
        Err(err) => return state.fail(err),
    };
    let subject = contract::streams::event_subject(&scope.project.to_string(), "*");
    let subscription = match state.nats.subscribe(subject).await {
        Ok(subscription) => subscription,
        Err(err) => return state.fail(QueryError::Unavailable(err.to_string())),
    };
    let mut ticker = tokio::time::interval(ACTIVE_USERS_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        subscription,
        ticker,
        clickhouse: state.clickhouse.clone(),
        project: scope.project,
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let next = feed.next().await?;
        Some((Ok::<_, Infallible>(next), feed))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

struct Feed {
    subscription: async_nats::Subscriber,
    ticker: tokio::time::Interval,
    clickhouse: clickhouse::Client,
    project: Uuid,
}

impl Feed {
    /// The next SSE message: an `event` (the stored envelope, as published) or an
    /// `active_users` count. `None` once the subscription ends.
    async fn next(&mut self) -> Option<SseEvent> {
        tokio::select! {
            message = self.subscription.next() => {
                let message = message?;
                Some(SseEvent::default().event("event").data(String::from_utf8_lossy(&message.payload)))
            }
            _ = self.ticker.tick() => {
                let count = self
                    .clickhouse
                    .query(ACTIVE_USERS)
                    .bind(self.project.to_string())
                    .fetch_one::<u64>()
                    .await
                    .ok();
                // Serialising an optional number cannot fail.
                let data = serde_json::to_string(&ActiveUsers { count }).unwrap_or_default();
                Some(SseEvent::default().event("active_users").data(data))
            }
        }
    }
}
