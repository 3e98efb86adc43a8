//! The HTTP routes of `/api/query/*`, one module per endpoint group. Each names its caller
//! ([`crate::extract`]), parses its parameters into typed structs that also document them,
//! checks the scope, runs the domain module of its analysis and answers with the exact range
//! the SQL covered.

pub(crate) mod catalog;
pub(crate) mod erasure;
pub(crate) mod events;
pub(crate) mod insights;
pub(crate) mod journeys;
pub(crate) mod live;
pub(crate) mod overview;
pub(crate) mod persons;
pub(crate) mod shared;
pub(crate) mod system;
pub(crate) mod top;
pub(crate) mod trends;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::access::Who;
use crate::csv::Format;
use crate::csv::tables::Tabular;
use crate::error::Error;
use crate::scope::Scope;
use crate::state::AppState;

/// The query-string parameters every query reads: whose events, over which range, with which
/// filters, bots or not. Read as text: [`Scope::check`] answers what is wrong with them, in that order.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ScopeParams {
    /// The project whose events are read.
    #[param(value_type = uuid::Uuid)]
    project_id: Option<String>,
    /// Start of the range, inclusive: an RFC 3339 time, or a `YYYY-MM-DD` date in the project's
    /// time zone. Default: `to` minus 7 days.
    #[param(nullable = false)]
    from: Option<String>,
    /// End of the range: an RFC 3339 time (exclusive), or a `YYYY-MM-DD` date in the project's
    /// time zone (inclusive: the range ends when the next day starts). Default: now. The range
    /// must be positive and at most 1098 days long.
    #[param(nullable = false)]
    to: Option<String>,
    /// Conditions every event must meet: a JSON array of at most 20
    /// `{"key": "<dimension, property:<key> or person:<key>>", "op": "eq|neq|contains|set|not_set|gt|gte|lt|lte",
    /// "value": …}` (schema `FilterSpec`).
    #[param(nullable = false)]
    filter: Option<String>,
    /// `true` (or `1`): also count the events ingest flagged as bots' (crawlers and headless
    /// browsers, by their user agent). Default `false`: every analysis leaves them out.
    #[param(value_type = Option<bool>, nullable = false)]
    include_bots: Option<String>,
    /// `json` (the default) or `csv`: the same answer as a `text/csv` download, one row per
    /// value, point, step or cohort (docs/api.md, "CSV"); the explorer's has every matching
    /// event, not one page.
    #[param(nullable = false, pattern = "^(|json|csv)$")]
    format: Option<String>,
}

impl ScopeParams {
    /// The checked scope: the project must be one the caller may read, the range and filters
    /// must be valid.
    fn check(&self, state: &AppState, caller: &Who) -> Result<Scope, Error> {
        Scope::check(
            &state.projects,
            caller,
            self.project_id.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            self.filter.as_deref(),
            self.include_bots.as_deref(),
        )
    }

    /// The `format` asked for.
    fn format(&self) -> Result<Format, Error> {
        Format::parse(self.format.as_deref())
    }
}

/// Checks the scope, runs `query` over it, counts the outcome and answers it, as JSON or as
/// CSV.
async fn answer<T: Serialize + Tabular>(
    state: &AppState,
    caller: &Who,
    scope: &ScopeParams,
    query: impl AsyncFnOnce(Scope) -> Result<T, Error>,
) -> Response {
    let outcome = match scope
        .format()
        .and_then(|format| Ok((format, scope.check(state, caller)?)))
    {
        Ok((format, scope)) => query(scope).await.map(|body| (format, body)),
        Err(err) => Err(err),
    };
    match outcome {
        Ok((format, body)) => {
            state.count("ok");
            match format {
                Format::Json => Json(body).into_response(),
                Format::Csv => body.csv().into_response(&body.file_name()),
            }
        }
        Err(err) => refuse(state, err),
    }
}

/// Counts a refused or failed query and answers its error.
fn refuse(state: &AppState, err: Error) -> Response {
    state.count(err.outcome());
    err.into_response()
}

/// A text parameter, absent when empty.
fn given(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.is_empty())
}
