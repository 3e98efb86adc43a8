//! `GET /api/query/live`: a project's events as they are ingested, as Server-Sent Events, fed
//! by a NATS subscription on `events.<project_id>.>` (no polling of ClickHouse for the feed),
//! and every few seconds the number of users active in the last five minutes. The feed lasts
//! as long as the caller's token: it ends at the token's `exp`, or as soon as auth announces
//! that the caller was disabled, erased or lost the analyst role, with an `end` message saying
//! why; the caller opens it again with a fresh token.

use std::convert::Infallible;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use contract::auth::{AuthEvent, Role};
use contract::query::{ActiveUsers, LiveEnd, LiveEndReason};
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
            description = "Server-Sent Events: `event` messages carry an event envelope as published; every 5 seconds an `active_users` message carries `ActiveUsers`. The feed ends when the token it was opened with expires, or when the caller is disabled or loses the analyst role, after an `end` message carrying `LiveEnd`; open it again with a fresh token.",
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
    // Auth publishes the caller's own changes on this subject (a core subscription sees what
    // JetStream stores): one more subscription per feed, no lookup per message.
    let account = match state
        .nats
        .subscribe(contract::auth::user_subject(scope.caller.sub))
        .await
    {
        Ok(account) => account,
        Err(err) => return state.fail(QueryError::Unavailable(err.to_string())),
    };
    let mut ticker = tokio::time::interval(ACTIVE_USERS_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        subscription,
        account,
        expiry: Box::pin(tokio::time::sleep_until(instant_of(scope.caller.exp))),
        ended: false,
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

/// The runtime's instant of the Unix time `exp` (seconds); now when it has passed (a token
/// within the verifier's leeway opens a feed that ends at once).
fn instant_of(exp: i64) -> tokio::time::Instant {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let exp = Duration::from_secs(u64::try_from(exp).unwrap_or(0));
    tokio::time::Instant::now() + exp.saturating_sub(now)
}

/// Whether an auth event on the caller's subject withdraws their access to the feed.
fn ends_access(payload: &[u8]) -> bool {
    match serde_json::from_slice::<AuthEvent>(payload) {
        Ok(AuthEvent::UserDisabled { .. } | AuthEvent::UserErased { .. }) => true,
        Ok(AuthEvent::RoleChanged { role, .. }) => !role.includes(Role::Analyst),
        _ => false,
    }
}

struct Feed {
    subscription: async_nats::Subscriber,
    /// The caller's auth events (`auth.user.<id>`).
    account: async_nats::Subscriber,
    /// The caller's token expires.
    expiry: Pin<Box<tokio::time::Sleep>>,
    /// The `end` message was sent: the stream is over.
    ended: bool,
    ticker: tokio::time::Interval,
    clickhouse: clickhouse::Client,
    project: Uuid,
}

impl Feed {
    /// The next SSE message: an `event` (the stored envelope, as published), an
    /// `active_users` count, or the last one, `end`. `None` after `end`, or once a
    /// subscription ends.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if self.ended {
                return None;
            }
            // Checked first, so no event goes out after the token's `exp`, however busy the
            // project; the branches below are polled in random order, so counts still pass.
            if self.expiry.is_elapsed() {
                return Some(self.end(LiveEndReason::TokenExpired));
            }
            tokio::select! {
                () = &mut self.expiry => return Some(self.end(LiveEndReason::TokenExpired)),
                change = self.account.next() => {
                    if ends_access(&change?.payload) {
                        return Some(self.end(LiveEndReason::AccessRevoked));
                    }
                }
                message = self.subscription.next() => {
                    let message = message?;
                    return Some(SseEvent::default().event("event").data(String::from_utf8_lossy(&message.payload)));
                }
                _ = self.ticker.tick() => return Some(self.active_users().await),
            }
        }
    }

    async fn active_users(&self) -> SseEvent {
        let count = self
            .clickhouse
            .query(ACTIVE_USERS)
            .bind(self.project.to_string())
            .fetch_one::<u64>()
            .await
            .ok();
        // Serialising an optional number cannot fail.
        let data = serde_json::to_string(&ActiveUsers { count }).unwrap_or_default();
        SseEvent::default().event("active_users").data(data)
    }

    /// The `end` message; the stream closes after it.
    fn end(&mut self, reason: LiveEndReason) -> SseEvent {
        self.ended = true;
        // Serialising a one-field struct of a unit enum cannot fail.
        let data = serde_json::to_string(&LiveEnd { reason }).unwrap_or_default();
        SseEvent::default().event("end").data(data)
    }
}
