//! `GET /api/query/top`.

use axum::extract::State;
use axum::response::Response;
use contract::query::TopResponse;
use plumbing::error::QueryParams;
use serde::Deserialize;

use super::{ScopeParams, answer, given};
use crate::error::{QueryTimeout, ScopeErrors};
use crate::extract::Caller;
use crate::params;
use crate::params::dimension::{Dimension, SessionDimension};
use crate::state::AppState;
use crate::top::{Request, Values};

/// What top values are counted.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TopParams {
    /// What to count by: `event` (default), `path`, `host`, `url`, `referrer`, `browser`, `os`, `device`, `kind`, `lib`, `distinct_id`, `country`, `region`, `city`, `channel`, `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`, `entry_page`, `exit_page` (the path of the first and last pageview of each session that started in the range; counts are sessions), `property:<key>` or `person:<key>` (the event's person's property; a key of 1 to 200 letters, digits, `$`, `_`, `-`, `.`, `:` or spaces)
    #[param(nullable = false)]
    dimension: Option<String>,
    /// Only events of this name (empty: all)
    #[param(nullable = false)]
    event: Option<String>,
    /// How many values (default 10)
    #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// `GET /api/query/top?dimension=&event=&limit=`: the most frequent values of a dimension, with
/// event counts and unique users.
#[utoipa::path(
    get,
    path = "/api/query/top",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams, TopParams),
    responses(
        (status = 200, description = "the most frequent values, with events and unique users", content((TopResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn top(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
    QueryParams(asked): QueryParams<TopParams>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        let dimension_name = asked.dimension.unwrap_or_else(|| "event".to_owned());
        if let Some(dimension) = SessionDimension::parse(&dimension_name) {
            let limit = params::limit(asked.limit.as_deref(), 10)?;
            let event = given(asked.event);
            let dimension = (dimension, dimension_name);
            return crate::sessions::top(&state.store, &scope, dimension, event.as_deref(), limit)
                .await;
        }
        let request = Request {
            values: Values {
                dimension: Dimension::parse(&dimension_name)?,
                events: given(asked.event).into_iter().collect(),
            },
            limit: params::limit(asked.limit.as_deref(), 10)?,
            dimension_name,
        };
        crate::top::top(&state.store, &state.top_days, &scope, request).await
    })
    .await
}
