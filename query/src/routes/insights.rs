//! `GET /api/query/insights/{insight_id}`: a saved insight run now, as a dashboard tile shows
//! it. Query builds the insight's own call (its route, its range computed today in the
//! project's zone, its parameters and body) and runs it through the same route a direct call
//! takes, as the same caller, so a tile answers exactly what the Analytics view answers.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use contract::auth::{InsightKind, InsightQuery, preset_days_back};
use jiff::ToSpan as _;
use plumbing::error::PathParams;
use plumbing::projects::SavedInsight;
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::access::{Who, may_read};
use crate::error::{Error, QueryTimeout, ScopeErrors};
use crate::extract::{Caller, Ran};
use crate::state::AppState;

/// The routes a saved insight may call: the four analyses, nothing else.
fn analyses(state: AppState) -> Router {
    Router::new()
        .route("/api/query/trends", get(super::trends::trends))
        .route("/api/query/top", get(super::top::top))
        .route("/api/query/funnel", post(super::journeys::funnel))
        .route("/api/query/retention", post(super::journeys::retention))
        .with_state(state)
}

/// The first and last day (`YYYY-MM-DD`, inclusive) `query` covers today in `zone_name`.
fn days(query: &InsightQuery, zone_name: &str) -> Result<(String, String), Error> {
    if let Some(back) = preset_days_back(&query.range) {
        let zone = crate::params::zone(zone_name);
        let today = jiff::Timestamp::now().to_zoned(zone).date();
        let first = today
            .checked_sub(back.days())
            .map_err(|err| Error::Invalid(err.to_string()))?;
        return Ok((first.to_string(), today.to_string()));
    }
    match (&query.from, &query.to) {
        (Some(from), Some(to)) if query.range == "custom" => Ok((from.clone(), to.clone())),
        _ => Err(Error::Invalid(format!(
            "the insight's range {:?} is not one query knows",
            query.range
        ))),
    }
}

/// Runs `insight` as `caller` through its analysis route, answering what that route answers.
pub(crate) async fn run(state: &AppState, caller: Who, insight: &SavedInsight) -> Response {
    let Some(zone_name) = state.projects.timezone(insight.project_id) else {
        return Error::NotFound("no such insight".to_owned()).into_response();
    };
    let (from, to) = match days(&insight.query, &zone_name) {
        Ok(days) => days,
        Err(err) => return err.into_response(),
    };
    let mut uri = format!(
        "/api/query/{}?project_id={}&from={from}&to={to}",
        insight.kind.as_str(),
        insight.project_id
    );
    let params = insight.query.params.trim_start_matches(['?', '&']);
    if !params.is_empty() {
        uri.push('&');
        uri.push_str(params);
    }
    let (method, body) = match (insight.kind, &insight.query.body) {
        (InsightKind::Funnel | InsightKind::Retention, Some(body)) => {
            (Method::POST, Body::from(body.to_string()))
        }
        (InsightKind::Funnel | InsightKind::Retention, None) => (Method::POST, Body::from("{}")),
        (InsightKind::Trends | InsightKind::Top, _) => (Method::GET, Body::empty()),
    };
    let mut request = match Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
    {
        Ok(request) => request,
        Err(err) => {
            return Error::Invalid(format!("the insight's parameters are not valid: {err}"))
                .into_response();
        }
    };
    request.extensions_mut().insert(Ran(caller));
    match analyses(state.clone()).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

#[utoipa::path(
    get,
    path = "/api/query/insights/{insight_id}",
    tag = "query",
    security(("bearer" = [])),
    params(("insight_id" = Uuid, Path, description = "a saved insight's id")),
    responses(
        (status = 200, description = "what the insight's analysis route answers now (trends, top, funnel or retention JSON)", body = serde_json::Value),
        ScopeErrors,
        QueryTimeout,
    )
)]
pub(crate) async fn insight(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(insight_id): PathParams<Uuid>,
) -> Response {
    match state
        .projects
        .insight(insight_id)
        .filter(|insight| may_read(&state.projects, &caller, insight.project_id))
    {
        Some(insight) => run(&state, caller, &insight).await,
        None => {
            state.count("invalid");
            Error::NotFound("no such insight".to_owned()).into_response()
        }
    }
}
