//! `GET /api/query/catalog`.

use axum::extract::State;
use axum::response::Response;
use contract::query::CatalogResponse;
use plumbing::error::QueryParams;

use super::{ScopeParams, answer};
use crate::error::{QueryTimeout, ScopeErrors};
use crate::extract::Caller;
use crate::state::AppState;

/// `GET /api/query/catalog`: the event names and property keys seen in the range, most
/// frequent first, with counts, for the UI's pickers. (A property's top values:
/// `top?dimension=property:<key>`.)
#[utoipa::path(
    get,
    path = "/api/query/catalog",
    tag = "query",
    security(("bearer" = [])),
    params(ScopeParams),
    responses(
        (status = 200, description = "the event names and property keys of the range", content((CatalogResponse = "application/json"), (String = "text/csv"))),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn catalog(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(scope): QueryParams<ScopeParams>,
) -> Response {
    answer(&state, &caller, &scope, async |scope| {
        crate::catalog::catalog(&state.store, &scope).await
    })
    .await
}
