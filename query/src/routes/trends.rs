//! `GET /api/query/trends`.

use axum::extract::State;
use axum::response::Response;
use contract::query::TrendsResponse;
use plumbing::error::QueryParams;
use serde::Deserialize;

use super::{ScopeParams, answer, given};
use crate::error::{QueryTimeout, ScopeErrors};
use crate::extract::Caller;
use crate::params;
use crate::params::dimension::Dimension;
use crate::params::interval::Interval;
use crate::state::AppState;
use crate::trends::request::{Measure, Request};

/// What is measured, per which bucket, broken down how.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrendsParams {
    /// Only events of this name (empty: all)
    #[param(nullable = false)]
    event: Option<String>,
    /// `count` (default) of events, `uniques` (distinct users), or `sum` or `avg` of the numeric property `property`
    #[param(nullable = false, pattern = "^(|count|uniques|sum|avg)$")]
    measure: Option<String>,
    /// The property `sum` and `avg` read (1 to 200 letters, digits, `$`, `_`, `-`, `.`, `:` or spaces)
    #[param(nullable = false)]
    property: Option<String>,
    /// Bucket size (default `day`); at most 2000 buckets
    #[param(nullable = false, pattern = "^(|minute|hour|day|week|month)$")]
    interval: Option<String>,
    /// One series per value of this dimension (as `dimension` of top); empty: one series
    #[param(nullable = false)]
    breakdown: Option<String>,
    /// How many breakdown values get a series before the rest is `other` (default 5)
    #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// `true` or `1`: also the same series over the previous period of equal length; anything else: not
    #[param(nullable = false)]
    compare: Option<String>,
}

/// `GET /api/query/trends?event=&measure=count|uniques|sum|avg&property=&interval=&breakdown=
/// &limit=&compare=true`: one series per breakdown value (the top `limit`, 5 by default, then
/// "other"), every bucket present; with `compare`, the same series for the previous period.
#[utoipa::path(
    get,
    path = "/api/query/trends",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams, TrendsParams),
    responses(
        (status = 200, description = "the series of the range (and of the previous period)", content((TrendsResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn trends(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
    QueryParams(asked): QueryParams<TrendsParams>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        let request = Request {
            interval: Interval::parse(asked.interval.as_deref())?,
            measure: Measure::parse(asked.measure.as_deref(), asked.property.as_deref())?,
            event: given(asked.event),
            breakdown: asked
                .breakdown
                .as_deref()
                .filter(|b| !b.is_empty())
                .map(Dimension::parse)
                .transpose()?,
            limit: params::limit(asked.limit.as_deref(), 5)?,
            compare: matches!(asked.compare.as_deref(), Some("true" | "1")),
            interval_name: asked.interval.unwrap_or_else(|| "day".to_owned()),
        };
        crate::trends::trends(&state.store, &state.trend_days, &scope, request).await
    })
    .await
}
