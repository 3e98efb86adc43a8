//! The HTTP handlers of `/api/query/*`. Each checks the caller's token and role, reads and
//! checks its parameters, runs SQL with bound parameters only, and answers with the exact
//! range the SQL covered.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clickhouse::Row;
use contract::auth::Role;
use contract::query::{
    CatalogEvent, CatalogProperty, CatalogResponse, EventResponse, EventView, EventViewContext,
    EventsPage, Figure, OverviewResponse, TopResponse, TopValue,
};
use jiff::tz::TimeZone;
use plumbing::error::{PathParams, QueryParams, error_response};
use plumbing::jwt::JwksVerifier;
use plumbing::projects::Projects;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::params::dimension::Dimension;
use crate::params::filter::{Filter, bind_all};
use crate::params::range::Range;
use crate::params::{self, Invalid};
use crate::sql;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub clickhouse: clickhouse::Client,
    /// For the live feed.
    pub nats: async_nats::Client,
    pub projects: Projects,
    pub tokens: Arc<JwksVerifier>,
    /// `query_queries_total{result}`.
    pub queries: Family<Vec<(&'static str, String)>, Counter>,
    /// Where every statement run is appended, with its values bound (`QUERY_SQL_LOG`).
    pub sql_log: Option<Arc<std::sync::Mutex<std::fs::File>>>,
    /// `CLICKHOUSE_DB`, the database `clickhouse` reads.
    pub database: String,
    /// `CLICKHOUSE_CLUSTER`: the events are read through the `Distributed` table `events` like
    /// a single table, except the parts, which are the shards' (`sql::events_parts`).
    pub cluster: Option<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The query routes, and `GET /openapi.json` (no token needed) describing them.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/query/overview", get(overview))
        .route("/api/query/trends", get(crate::trends::trends))
        .route("/api/query/top", get(top))
        .route("/api/query/events", get(events))
        .route("/api/query/events/{id}", get(event))
        .route("/api/query/funnel", post(crate::journeys::funnel))
        .route("/api/query/retention", post(crate::journeys::retention))
        .route("/api/query/live", get(crate::live::live))
        .route("/api/query/catalog", get(catalog))
        .route("/api/query/system", get(crate::system::system))
        .with_state(state)
        .merge(plumbing::http::openapi_route(
            &<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi(),
        ))
}

/// Why a query was not answered.
#[derive(Debug)]
pub enum QueryError {
    Refused(Box<Response>),
    Invalid(String),
    NotFound(String),
    Timeout,
    Unavailable(String),
}

impl From<Invalid> for QueryError {
    fn from(err: Invalid) -> Self {
        Self::Invalid(err.0)
    }
}

impl From<clickhouse::error::Error> for QueryError {
    fn from(err: clickhouse::error::Error) -> Self {
        let text = err.to_string();
        // TIMEOUT_EXCEEDED: the query ran into `max_execution_time`.
        if text.contains("Code: 159.") || matches!(err, clickhouse::error::Error::TimedOut) {
            Self::Timeout
        } else {
            Self::Unavailable(text)
        }
    }
}

impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        match self {
            Self::Refused(response) => *response,
            Self::Invalid(message) => {
                error_response(StatusCode::BAD_REQUEST, "bad_request", message)
            }
            Self::NotFound(message) => error_response(StatusCode::NOT_FOUND, "not_found", message),
            Self::Timeout => error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "query_timeout",
                "the query took longer than allowed; narrow the range or the filters",
            ),
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "query failed");
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the event store cannot answer right now",
                )
            }
        }
    }
}

/// The query string, as text: each handler checks the parameters it reads.
pub(crate) type Params = QueryParams<HashMap<String, String>>;

/// The project, its zone and the range a query covers, once the caller may see them.
pub(crate) struct Scope {
    pub(crate) project: Uuid,
    pub(crate) zone: TimeZone,
    pub(crate) zone_name: String,
    pub(crate) range: Range,
    /// From the `filter` parameter, on every query of the request.
    pub(crate) filters: Vec<Filter>,
    /// The caller's verified token: the live feed ends when it expires.
    pub(crate) caller: contract::auth::Claims,
}

impl Scope {
    /// The WHERE condition of the project, the range and the filters.
    pub(crate) fn where_sql(&self) -> String {
        let mut sql = sql::SCOPE.to_owned();
        for filter in &self.filters {
            sql.push_str(" AND ");
            sql.push_str(&filter.sql());
        }
        sql
    }

    /// Binds what [`Self::where_sql`] holds, for `range`.
    pub(crate) fn bind(
        &self,
        mut query: clickhouse::query::Query,
        range: &Range,
    ) -> clickhouse::query::Query {
        let (from, to) = range.seconds();
        query = query
            .bind(self.project.to_string())
            .bind(from)
            .bind(to)
            .bind(from)
            .bind(to);
        for filter in &self.filters {
            query = bind_all(query, &filter.binds());
        }
        query
    }

    /// What every answer over the range starts with.
    pub(crate) fn to_wire(&self) -> contract::query::Scope {
        contract::query::Scope {
            project_id: self.project,
            timezone: self.zone_name.clone(),
            range: self.range.to_wire(),
        }
    }
}

impl AppState {
    /// Checks the token (analyst or admin), the project and the range.
    pub(crate) async fn scope(
        &self,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
    ) -> Result<Scope, QueryError> {
        let caller = plumbing::jwt::authorize(headers, &self.tokens, Role::Analyst)
            .await
            .map_err(|refused| QueryError::Refused(Box::new(refused)))?;
        let project = params
            .get("project_id")
            .ok_or_else(|| QueryError::Invalid("project_id is required".to_owned()))?;
        let project = Uuid::parse_str(project)
            .map_err(|_| QueryError::Invalid("project_id is not a UUID".to_owned()))?;
        let zone_name = self
            .projects
            .timezone(project)
            .ok_or_else(|| QueryError::NotFound("no such project".to_owned()))?;
        let zone = params::zone(&zone_name);
        let range = Range::parse(
            params.get("from").map(String::as_str),
            params.get("to").map(String::as_str),
            &zone,
        )?;
        let filters = Filter::parse_all(params.get("filter").map(String::as_str))?;
        Ok(Scope {
            project,
            zone,
            zone_name,
            range,
            filters,
            caller,
        })
    }

    fn count(&self, result: &str) {
        self.queries
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }

    /// Counts the outcome of a handler and answers it.
    pub(crate) fn finish<T: Serialize>(&self, outcome: Result<T, QueryError>) -> Response {
        match outcome {
            Ok(body) => {
                self.count("ok");
                Json(body).into_response()
            }
            Err(err) => self.fail(err),
        }
    }

    /// Counts a refused or failed query and answers its error.
    pub(crate) fn fail(&self, err: QueryError) -> Response {
        self.count(match err {
            QueryError::Refused(_) | QueryError::Invalid(_) | QueryError::NotFound(_) => "invalid",
            _ => "failed",
        });
        err.into_response()
    }

    /// Runs `query` and collects its rows, first appending its SQL to the SQL log if there
    /// is one. Every statement of the API runs through here.
    pub(crate) async fn fetch_all<T>(
        &self,
        query: clickhouse::query::Query,
    ) -> Result<Vec<T>, clickhouse::error::Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        if let Some(log) = &self.sql_log {
            use std::io::Write as _;
            let line = query.sql_display().to_string().replace('\n', " ");
            let mut file = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(err) = writeln!(file, "{line}") {
                tracing::warn!(error = %err, "cannot write the SQL log");
            }
        }
        query.fetch_all().await
    }

    /// [`Self::fetch_all`] of a query that answers one row.
    pub(crate) async fn fetch_one<T>(
        &self,
        query: clickhouse::query::Query,
    ) -> Result<T, clickhouse::error::Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.fetch_all(query)
            .await?
            .into_iter()
            .next()
            .ok_or(clickhouse::error::Error::RowNotFound)
    }

    /// A query of `template` whose only binds are the scope's, in `{scope}`.
    fn scoped(&self, template: &str, scope: &Scope, range: &Range) -> clickhouse::query::Query {
        let sql = template.replace("{scope}", &scope.where_sql());
        scope.bind(self.clickhouse.query(&sql), range)
    }
}

#[derive(Debug, Row, Deserialize)]
struct Totals {
    events: u64,
    users: u64,
    pageviews: u64,
}

#[derive(Debug, Row, Deserialize)]
struct Sessions {
    sessions: u64,
    bounced: u64,
}

/// `GET /api/query/overview`: events, unique users, sessions, pageviews and bounce rate, each
/// with the same figure for the previous period of equal length.
#[utoipa::path(
    get,
    path = "/api/query/overview",
    tag = "query",
    security(("bearer" = [])),
    params(crate::openapi::ScopeParams),
    responses(
        (status = 200, description = "the figures of the range and of the period before", body = OverviewResponse),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
    )
)]
async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        let current = overview_figures(&state, &scope, &scope.range).await?;
        let previous = overview_figures(&state, &scope, &scope.range.previous()).await?;
        let mut figures = BTreeMap::new();
        for (name, value) in current {
            let before = previous
                .iter()
                .find(|(previous, _)| *previous == name)
                .map_or(0.0, |(_, value)| *value);
            let change = (before != 0.0).then(|| (value - before) / before);
            figures.insert(
                name,
                Figure {
                    value,
                    previous: before,
                    change,
                },
            );
        }
        Ok(OverviewResponse {
            scope: scope.to_wire(),
            previous_range: scope.range.previous().to_wire(),
            figures,
        })
    }
    .await;
    state.finish(outcome)
}

async fn overview_figures(
    state: &AppState,
    scope: &Scope,
    range: &Range,
) -> Result<Vec<(String, f64)>, QueryError> {
    let totals: Totals = state
        .fetch_one(state.scoped(sql::OVERVIEW_TOTALS, scope, range))
        .await?;
    let sessions: Sessions = state
        .fetch_one(state.scoped(sql::OVERVIEW_SESSIONS, scope, range))
        .await?;
    let bounce = if sessions.sessions == 0 {
        0.0
    } else {
        sessions.bounced as f64 / sessions.sessions as f64
    };
    Ok(vec![
        ("events".to_owned(), totals.events as f64),
        ("users".to_owned(), totals.users as f64),
        ("sessions".to_owned(), sessions.sessions as f64),
        ("pageviews".to_owned(), totals.pageviews as f64),
        ("bounce_rate".to_owned(), bounce),
    ])
}

#[derive(Debug, Row, Deserialize)]
struct TopRow {
    value: String,
    count: u64,
    users: u64,
}

/// `GET /api/query/top?dimension=&event=&limit=`: the most frequent values of a dimension, with
/// event counts and unique users.
#[utoipa::path(
    get,
    path = "/api/query/top",
    tag = "query",
    security(("bearer" = [])),
    params(
        crate::openapi::ScopeParams,
        (
            "dimension" = Option<String>, Query, nullable = false,
            description = "What to count by: `event` (default), `path`, `host`, `url`, `referrer`, `browser`, `os`, `device`, `kind`, `lib`, `distinct_id` or `property:<key>` (a key of 1 to 200 letters, digits, `$`, `_`, `-`, `.`, `:` or spaces)"
        ),
        (
            "event" = Option<String>, Query, nullable = false,
            description = "Only events of this name (empty: all)"
        ),
        (
            "limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 1000,
            description = "How many values (default 10)"
        ),
    ),
    responses(
        (status = 200, description = "the most frequent values, with events and unique users", body = TopResponse),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
    )
)]
async fn top(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        let dimension = Dimension::parse(
            params
                .get("dimension")
                .map(String::as_str)
                .unwrap_or("event"),
        )?;
        let limit = params::limit(params.get("limit").map(String::as_str), 10)?;
        let event = params.get("event").filter(|e| !e.is_empty());
        let text = format!(
            "SELECT {} AS value, count() AS count, uniqCombined(user_hash) AS users \
             FROM events WHERE {}{} GROUP BY value ORDER BY count DESC, value LIMIT ?",
            dimension.sql(),
            scope.where_sql(),
            if event.is_some() {
                " AND event = ?"
            } else {
                ""
            }
        );
        let mut query = state.clickhouse.query(&text);
        if let Some(key) = dimension.bind() {
            query = query.bind(key);
        }
        query = scope.bind(query, &scope.range);
        if let Some(event) = event {
            query = query.bind(event);
        }
        let rows: Vec<TopRow> = state.fetch_all(query.bind(limit as u64)).await?;
        Ok(TopResponse {
            scope: scope.to_wire(),
            dimension: params
                .get("dimension")
                .cloned()
                .unwrap_or_else(|| "event".to_owned()),
            values: rows
                .into_iter()
                .map(|r| TopValue {
                    value: r.value,
                    count: r.count,
                    users: r.users,
                })
                .collect(),
        })
    }
    .await;
    state.finish(outcome)
}

#[derive(Debug, Row, Deserialize)]
struct Seen {
    value: String,
    count: u64,
}

/// Most entries of each catalogue list.
const CATALOG_LIMIT: u64 = 500;

/// `GET /api/query/catalog`: the event names and property keys seen in the range, most
/// frequent first, with counts, for the UI's pickers. (A property's top values:
/// `top?dimension=property:<key>`.)
#[utoipa::path(
    get,
    path = "/api/query/catalog",
    tag = "query",
    security(("bearer" = [])),
    params(crate::openapi::ScopeParams),
    responses(
        (status = 200, description = "the event names and property keys of the range", body = CatalogResponse),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
    )
)]
async fn catalog(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        let events = seen(&state, &scope, "event").await?;
        let properties = seen(&state, &scope, "arrayJoin(prop_keys)").await?;
        Ok(CatalogResponse {
            scope: scope.to_wire(),
            events: events
                .into_iter()
                .map(|row| CatalogEvent {
                    event: row.value,
                    count: row.count,
                })
                .collect(),
            properties: properties
                .into_iter()
                .map(|row| CatalogProperty {
                    key: row.value,
                    count: row.count,
                })
                .collect(),
        })
    }
    .await;
    state.finish(outcome)
}

/// The most frequent values of `expression` in the scope, with their counts.
async fn seen(state: &AppState, scope: &Scope, expression: &str) -> Result<Vec<Seen>, QueryError> {
    let text = format!(
        "SELECT {expression} AS value, toUInt64(count()) AS count FROM events \
         WHERE {} GROUP BY value ORDER BY count DESC, value LIMIT ?",
        scope.where_sql()
    );
    Ok(state
        .fetch_all(
            scope
                .bind(state.clickhouse.query(&text), &scope.range)
                .bind(CATALOG_LIMIT),
        )
        .await?)
}

/// One stored event, as the explorer shows it.
#[derive(Debug, Row, Deserialize)]
pub struct StoredEvent {
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    event: String,
    kind: String,
    distinct_id: String,
    user_id: String,
    session_id: String,
    timestamp: u32,
    received_at: u32,
    url: String,
    host: String,
    path: String,
    referrer: String,
    referrer_domain: String,
    browser: String,
    os: String,
    device_type: String,
    lib: String,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

impl StoredEvent {
    fn view(self) -> EventView {
        let time = |seconds: u32| {
            jiff::Timestamp::from_second(i64::from(seconds))
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        EventView {
            event_id: self.event_id,
            event: self.event,
            kind: self.kind,
            distinct_id: self.distinct_id,
            user_id: (!self.user_id.is_empty()).then_some(self.user_id),
            session_id: (!self.session_id.is_empty()).then_some(self.session_id),
            timestamp: time(self.timestamp),
            received_at: time(self.received_at),
            properties: self.prop_keys.into_iter().zip(self.prop_values).collect(),
            context: EventViewContext {
                url: self.url,
                host: self.host,
                path: self.path,
                referrer: self.referrer,
                referrer_domain: self.referrer_domain,
                browser: self.browser,
                os: self.os,
                device_type: self.device_type,
                lib: self.lib,
            },
        }
    }
}

/// `GET /api/query/events?event=&distinct_id=&limit=&cursor=`: events newest first. The cursor
/// is the position of the last event returned (time and id), so a page never shifts when new
/// events arrive.
#[utoipa::path(
    get,
    path = "/api/query/events",
    tag = "query",
    security(("bearer" = [])),
    params(
        crate::openapi::ScopeParams,
        (
            "event" = Option<String>, Query, nullable = false,
            description = "Only events of this name (empty: all)"
        ),
        (
            "distinct_id" = Option<String>, Query, nullable = false,
            description = "Only events of this user (empty: all)"
        ),
        (
            "limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 1000,
            description = "Events per page (default 50)"
        ),
        (
            "cursor" = Option<String>, Query, nullable = false,
            description = "The `next_cursor` of the previous page (empty: the first page)"
        ),
    ),
    responses(
        (status = 200, description = "a page of events, newest first", body = EventsPage),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
    )
)]
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        let limit = params::limit(params.get("limit").map(String::as_str), 50)?;
        let event = params.get("event").filter(|e| !e.is_empty());
        let distinct_id = params.get("distinct_id").filter(|e| !e.is_empty());
        let cursor = params
            .get("cursor")
            .filter(|c| !c.is_empty())
            .map(|c| parse_cursor(c))
            .transpose()?;
        let mut text = format!("SELECT {} FROM events WHERE {}", sql::EVENT_COLUMNS, scope.where_sql());
        if event.is_some() {
            text.push_str(" AND event = ?");
        }
        if distinct_id.is_some() {
            text.push_str(" AND distinct_id = ?");
        }
        if cursor.is_some() {
            text.push_str(
                " AND (timestamp < toDateTime(?) OR (timestamp = toDateTime(?) AND event_id < toUUID(?)))",
            );
        }
        text.push_str(" ORDER BY timestamp DESC, event_id DESC LIMIT ?");
        let mut query = scope.bind(state.clickhouse.query(&text), &scope.range);
        if let Some(event) = event {
            query = query.bind(event);
        }
        if let Some(distinct_id) = distinct_id {
            query = query.bind(distinct_id);
        }
        if let Some((seconds, id)) = cursor {
            query = query.bind(seconds).bind(seconds).bind(id.to_string());
        }
        let rows: Vec<StoredEvent> = state.fetch_all(query.bind(limit as u64)).await?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|last| format!("{}_{}", last.timestamp, last.event_id)))
            .flatten();
        Ok(EventsPage {
            scope: scope.to_wire(),
            events: rows.into_iter().map(StoredEvent::view).collect(),
            next_cursor: next,
        })
    }
    .await;
    state.finish(outcome)
}

fn parse_cursor(text: &str) -> Result<(u32, Uuid), QueryError> {
    let bad = || QueryError::Invalid("cursor is not one this API returned".to_owned());
    let (seconds, id) = text.split_once('_').ok_or_else(bad)?;
    Ok((
        seconds.parse().map_err(|_| bad())?,
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}

/// `GET /api/query/events/{id}?project_id=`: one event in full.
#[utoipa::path(
    get,
    path = "/api/query/events/{id}",
    tag = "query",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The event's `event_id`"),
        crate::openapi::ScopeParams
    ),
    responses(
        (status = 200, description = "the event", body = EventResponse),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
    )
)]
async fn event(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(id): PathParams<String>,
    QueryParams(params): Params,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        let id = Uuid::parse_str(&id)
            .map_err(|_| QueryError::Invalid("the event id is not a UUID".to_owned()))?;
        let text = format!(
            "SELECT {} FROM events WHERE project_id = toUUID(?) AND event_id = toUUID(?) LIMIT 1",
            sql::EVENT_COLUMNS
        );
        let found: StoredEvent = state
            .fetch_all(
                state
                    .clickhouse
                    .query(&text)
                    .bind(scope.project.to_string())
                    .bind(id.to_string()),
            )
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| QueryError::NotFound("no such event".to_owned()))?;
        Ok(EventResponse {
            project_id: scope.project,
            event: found.view(),
        })
    }
    .await;
    state.finish(outcome)
}
