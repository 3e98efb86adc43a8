//! `GET /api/query/overview`.

use axum::extract::State;
use axum::response::Response;
use contract::query::OverviewResponse;
use plumbing::error::QueryParams;

use super::{ScopeParams, answer};
use crate::error::{QueryTimeout, ScopeErrors};
use crate::extract::Caller;
use crate::state::AppState;

/// `GET /api/query/overview`: events, unique users, sessions, pageviews and bounce rate, each
/// with the same figure for the previous period of equal length.
#[utoipa::path(
    get,
    path = "/api/query/overview",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams),
    responses(
        (status = 200, description = "the figures of the range and of the period before", content((OverviewResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn overview(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        crate::overview::overview(&state.store, &state.days, &scope).await
    })
    .await
}
