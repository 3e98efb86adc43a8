//! `GET /api/query/events` and `GET /api/query/events/{id}`: the explorer.

use axum::extract::State;
use axum::response::Response;
use contract::query::{EventResponse, EventsPage};
use plumbing::error::{PathParams, QueryParams};
use serde::Deserialize;
use uuid::Uuid;

use super::{ScopeParams, answer, given};
use crate::access::Who;
use crate::csv::Format;
use crate::error::{Error, QueryTimeout, ScopeErrors};
use crate::events::{PageRequest, parse_cursor};
use crate::extract::Caller;
use crate::params;
use crate::state::AppState;

/// Which events a page shows, and where it starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// Only events of this name (empty: all)
    #[param(nullable = false)]
    event: Option<String>,
    /// Only events of this user (empty: all)
    #[param(nullable = false)]
    distinct_id: Option<String>,
    /// Events per page (default 50)
    #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page (empty: the first page)
    #[param(nullable = false)]
    cursor: Option<String>,
}

/// The event a path names.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct EventPath {
    /// The event's `event_id`
    #[param(value_type = Uuid)]
    id: String,
}

/// `GET /api/query/events?event=&distinct_id=&limit=&cursor=`: events newest first. The cursor
/// is the position of the last event returned (time and id), so a page never shifts when new
/// events arrive.
#[utoipa::path(
    get,
    path = "/api/query/events",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams, PageParams),
    responses(
        (status = 200, description = "a page of events, newest first", content((EventsPage = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
    QueryParams(asked): QueryParams<PageParams>,
) -> Response {
    if matches!(scope.format(), Ok(Format::Csv)) {
        return every_event(&state, &caller, &scope, asked);
    }
    answer(&state, &caller, &scope, async |scope| {
        let request = PageRequest {
            limit: params::limit(asked.limit.as_deref(), 50)?,
            event: given(asked.event),
            distinct_id: given(asked.distinct_id),
            cursor: given(asked.cursor)
                .map(|cursor| parse_cursor(&cursor))
                .transpose()?,
        };
        crate::events::page(&state.store, &scope, request).await
    })
    .await
}

/// The explorer's `format=csv`: every event the parameters match, streamed.
fn every_event(state: &AppState, caller: &Who, scope: &ScopeParams, asked: PageParams) -> Response {
    let outcome = scope.check(state, caller).and_then(|scope| {
        let request = PageRequest {
            limit: 0,
            event: given(asked.event),
            distinct_id: given(asked.distinct_id),
            cursor: None,
        };
        crate::events::csv(&state.store, &scope, &request)
    });
    match outcome {
        Ok(response) => {
            state.count("ok");
            response
        }
        Err(err) => super::refuse(state, err),
    }
}

/// `GET /api/query/events/{id}?project_id=`: one event in full.
#[utoipa::path(
    get,
    path = "/api/query/events/{id}",
    tag = "query",
    security(("bearer" = [])),
    params(EventPath, ScopeParams),
    responses(
        (status = 200, description = "the event", content((EventResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn event(
    State(state): State<AppState>,
    PathParams(path): PathParams<EventPath>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        let id = Uuid::parse_str(&path.id)
            .map_err(|_| Error::Invalid("the event id is not a UUID".to_owned()))?;
        crate::events::one(&state.store, &scope, id).await
    })
    .await
}
