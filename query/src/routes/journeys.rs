//! `POST /api/query/funnel` and `POST /api/query/retention`: what users do over time. The
//! request is a JSON body; the scope is in the query string, as for every query.

use axum::extract::State;
use axum::response::Response;
use contract::query::{FunnelRequest, FunnelResponse, RetentionRequest, RetentionResponse};
use plumbing::error::{JsonBody, QueryParams};

use super::{ScopeParams, answer};
use crate::error::{BodyTooLarge, QueryTimeout, ScopeErrors};
use crate::extract::Caller;
use crate::state::AppState;

/// `POST /api/query/funnel {steps:[{event, filters?}], window_seconds}` with `project_id`,
/// `from`, `to` (and `filter`) in the query string: how many users did each step in order
/// within the window of their first step, conversion from the first and the previous step,
/// median time to convert.
#[utoipa::path(
    post,
    path = "/api/query/funnel",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams),
    request_body = FunnelRequest,
    responses(
        (status = 200, description = "users per step, conversions and the median time to convert", content((FunnelResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
        BodyTooLarge,
    )
)]
pub(crate) async fn funnel(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
    JsonBody(request): JsonBody<FunnelRequest>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        crate::funnel::funnel(&state.store, &scope, request).await
    })
    .await
}

/// `POST /api/query/retention {start_event, return_event, period: day|week, periods}`: users
/// grouped by the period of their first start event in the range; for each cohort, how many
/// did the return event 0, 1, … periods later (within the range), as counts and percentages.
#[utoipa::path(
    post,
    path = "/api/query/retention",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams),
    request_body = RetentionRequest,
    responses(
        (status = 200, description = "cohorts by their first start event, with their returns per period", content((RetentionResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
        BodyTooLarge,
    )
)]
pub(crate) async fn retention(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
    JsonBody(request): JsonBody<RetentionRequest>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        crate::retention::retention(&state.store, &state.top_days, &scope, request).await
    })
    .await
}
