//! `GET /api/query/persons` and `GET /api/query/persons/{id}`: the tracked persons (every
//! distinct id that identity links merged into one), their properties and their events.

use axum::extract::State;
use axum::response::Response;
use contract::query::{PersonResponse, PersonsPage};
use plumbing::error::{PathParams, QueryParams};
use serde::Deserialize;
use uuid::Uuid;

use super::{ScopeParams, answer, given};
use crate::error::{Error, QueryTimeout, ScopeErrors};
use crate::extract::Caller;
use crate::params;
use crate::persons::list::{ListRequest, MAX_SEARCH_CHARS, parse_cursor};
use crate::persons::person::PersonRequest;
use crate::state::AppState;

/// Which persons a page shows, and where it starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PersonsParams {
    /// Only persons one of whose distinct ids, or one of whose property values, contains this
    /// text (any case; at most 200 characters; empty: all)
    #[param(nullable = false)]
    search: Option<String>,
    /// Persons per page (default 50)
    #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page (empty: the first page)
    #[param(nullable = false)]
    cursor: Option<String>,
}

/// Which of the person's events a page shows, and where it starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PersonEventsParams {
    /// Events per page (default 50)
    #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page (empty: the first page)
    #[param(nullable = false)]
    cursor: Option<String>,
}

/// The person a path names.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PersonPath {
    /// The person's `id`
    #[param(value_type = Uuid)]
    id: String,
}

/// `GET /api/query/persons?search=&limit=&cursor=`: the persons with an event in the range
/// (and the filters), by canonical distinct id, with their ids, properties, first and last
/// event.
#[utoipa::path(
    get,
    path = "/api/query/persons",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams, PersonsParams),
    responses(
        (status = 200, description = "a page of persons, by canonical distinct id", content((PersonsPage = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn persons(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
    QueryParams(asked): QueryParams<PersonsParams>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        let search = given(asked.search);
        if search
            .as_ref()
            .is_some_and(|text| text.chars().count() > MAX_SEARCH_CHARS)
        {
            return Err(Error::Invalid(format!(
                "search is at most {MAX_SEARCH_CHARS} characters"
            )));
        }
        let request = ListRequest {
            search,
            limit: params::limit(asked.limit.as_deref(), 50)?,
            after: given(asked.cursor)
                .map(|cursor| parse_cursor(&cursor))
                .transpose()?,
        };
        crate::persons::list::list(&state.store, &scope, request).await
    })
    .await
}

/// `GET /api/query/persons/{id}?project_id=&limit=&cursor=`: one person, with their events in
/// the range (and the filters), newest first.
#[utoipa::path(
    get,
    path = "/api/query/persons/{id}",
    tag = "query",
    security(("bearer" = [])),
    params(PersonPath, ScopeParams, PersonEventsParams),
    responses(
        (status = 200, description = "the person and a page of their events", content((PersonResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn person(
    State(state): State<AppState>,
    PathParams(path): PathParams<PersonPath>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
    QueryParams(asked): QueryParams<PersonEventsParams>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        let request = PersonRequest {
            id: Uuid::parse_str(&path.id)
                .map_err(|_| Error::Invalid("the person id is not a UUID".to_owned()))?,
            limit: params::limit(asked.limit.as_deref(), 50)?,
            cursor: given(asked.cursor)
                .map(|cursor| crate::events::parse_cursor(&cursor))
                .transpose()?,
        };
        crate::persons::person::person(&state.store, &scope, request).await
    })
    .await
}
