//! What users do over time: funnels (ordered steps within a conversion window, ClickHouse
//! `windowFunnel`) and retention (cohorts by the first start event, returns per period).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use clickhouse::Row;
use contract::query::{
    Cohort, FunnelGroup, FunnelRequest, FunnelResponse, FunnelStep, FunnelStepSpec, MAX_PERIODS,
    MAX_STEPS, MAX_WINDOW_SECONDS, RetentionRequest, RetentionResponse,
};
use plumbing::error::{JsonBody, QueryParams};
use serde::Deserialize;

use crate::api::{AppState, Params, QueryError, Scope};
use crate::params::dimension::Dimension;
use crate::params::filter::{Bound, Filter, bind_all};
use crate::params::{self, Invalid};

/// A step as SQL: `event = ?` and its filters, with the values to bind in order.
struct Step {
    event: String,
    sql: String,
    binds: Vec<Bound>,
}

impl Step {
    fn parse(spec: FunnelStepSpec) -> Result<Self, Invalid> {
        if spec.event.is_empty() || spec.event.chars().count() > 200 {
            return Err(Invalid(
                "every step needs an event name of at most 200 characters".to_owned(),
            ));
        }
        let mut sql = "event = ?".to_owned();
        let mut binds = vec![Bound::Text(spec.event.clone())];
        for filter in spec.filters {
            let filter = Filter::from_spec(filter)?;
            sql.push_str(" AND ");
            sql.push_str(&filter.sql());
            binds.extend(filter.binds());
        }
        Ok(Self {
            event: spec.event,
            sql: format!("({sql})"),
            binds,
        })
    }
}

#[derive(Debug, Clone, Row, Deserialize)]
struct Reached {
    /// The breakdown value ('' without a breakdown).
    label: String,
    level: u8,
    users: u64,
    /// Median seconds from the first step to the last, over the users who converted.
    median_seconds: f64,
}

/// `POST /api/query/funnel {steps:[{event, filters?}], window_seconds}` with `project_id`,
/// `from`, `to` (and `filter`) in the query string: how many users did each step in order
/// within the window of their first step, conversion from the first and the previous step,
/// median time to convert.
#[utoipa::path(
    post,
    path = "/api/query/funnel",
    tag = "query",
    security(("bearer" = [])),
    params(crate::openapi::ScopeParams),
    request_body = FunnelRequest,
    responses(
        (status = 200, description = "users per step, conversions and the median time to convert", body = FunnelResponse),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
        (status = 413, description = "the request body is too large", body = contract::ErrorBody),
    )
)]
pub async fn funnel(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
    JsonBody(request): JsonBody<FunnelRequest>,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        if !(2..=MAX_STEPS).contains(&request.steps.len()) {
            return Err(QueryError::Invalid(format!(
                "a funnel has 2 to {MAX_STEPS} steps"
            )));
        }
        if !(1..=MAX_WINDOW_SECONDS).contains(&request.window_seconds) {
            return Err(QueryError::Invalid(format!(
                "window_seconds must be from 1 to {MAX_WINDOW_SECONDS}"
            )));
        }
        let steps = request
            .steps
            .into_iter()
            .map(Step::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let breakdown = request
            .breakdown
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(Dimension::parse)
            .transpose()?;
        let limit = params::limit(request.limit.map(|n| n.to_string()).as_deref(), 5)?;
        let overall = levels(&state, &scope, &steps, request.window_seconds, None).await?;
        let median = overall
            .iter()
            .find(|r| usize::from(r.level) == steps.len())
            .map(|r| r.median_seconds);
        let mut body = FunnelResponse {
            scope: scope.to_wire(),
            steps: funnel_steps(&steps, &overall),
            window_seconds: request.window_seconds,
            median_seconds_to_convert: median,
            breakdown: None,
        };
        if let Some(dimension) = &breakdown {
            // Each user counts under the value of their first step's event.
            let rows = levels(
                &state,
                &scope,
                &steps,
                request.window_seconds,
                Some(dimension),
            )
            .await?;
            let mut labels: Vec<(String, u64)> = Vec::new();
            for row in &rows {
                match labels.iter_mut().find(|(label, _)| *label == row.label) {
                    Some((_, users)) => *users += row.users,
                    None => labels.push((row.label.clone(), row.users)),
                }
            }
            labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let (shown, rest) = labels.split_at(labels.len().min(limit));
            let mut groups: Vec<FunnelGroup> = shown
                .iter()
                .map(|(label, _)| {
                    let mine: Vec<Reached> =
                        rows.iter().filter(|r| r.label == *label).cloned().collect();
                    FunnelGroup {
                        value: label.clone(),
                        steps: funnel_steps(&steps, &mine),
                    }
                })
                .collect();
            if !rest.is_empty() {
                let others: Vec<Reached> = rows
                    .iter()
                    .filter(|r| rest.iter().any(|(label, _)| *label == r.label))
                    .cloned()
                    .collect();
                groups.push(FunnelGroup {
                    value: "other".to_owned(),
                    steps: funnel_steps(&steps, &others),
                });
            }
            body.breakdown = Some(groups);
        }
        Ok(body)
    }
    .await;
    state.finish(outcome)
}

/// Users per deepest level reached (and breakdown value), with the median time to convert.
async fn levels(
    state: &AppState,
    scope: &Scope,
    steps: &[Step],
    window_seconds: u64,
    breakdown: Option<&Dimension>,
) -> Result<Vec<Reached>, QueryError> {
    let conditions: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
    let last = &steps[steps.len() - 1];
    let first = &steps[0];
    let label = match breakdown {
        None => "''".to_owned(),
        Some(dimension) => format!("argMinIf({}, timestamp, {})", dimension.sql(), first.sql),
    };
    // Per user: the deepest step reached in order within the window, and (for the median)
    // the first time of the first step and the first time of the last step after it.
    let text = format!(
        "SELECT label, level, toUInt64(count()) AS users, \
           toFloat64(ifNull(median(if(level = {n}, finished - started, NULL)), 0)) AS median_seconds \
         FROM ( \
           SELECT user_hash, windowFunnel(?)(timestamp, {conditions}) AS level, \
             minIf(toUInt32(timestamp), {first_sql}) AS started, \
             arrayReduce('min', arrayFilter(t -> t >= started, groupArrayIf(toUInt32(timestamp), {last_sql}))) AS finished, \
             {label} AS label \
           FROM events WHERE {scope} GROUP BY user_hash) \
         WHERE level > 0 GROUP BY label, level ORDER BY label, level",
        n = steps.len(),
        conditions = conditions.join(", "),
        first_sql = first.sql,
        last_sql = last.sql,
        scope = scope.where_sql(),
    );
    let mut query = state.clickhouse.query(&text).bind(window_seconds);
    for step in steps {
        query = bind_all(query, &step.binds);
    }
    query = bind_all(query, &first.binds);
    query = bind_all(query, &last.binds);
    if let Some(dimension) = breakdown {
        if let Some(key) = dimension.bind() {
            query = query.bind(key);
        }
        query = bind_all(query, &first.binds);
    }
    Ok(state.fetch_all(scope.bind(query, &scope.range)).await?)
}

/// Counts and conversions per step, from the users per deepest level: a user who reached level
/// k also did every step before it.
fn funnel_steps(steps: &[Step], reached: &[Reached]) -> Vec<FunnelStep> {
    let counts: Vec<u64> = (1..=steps.len())
        .map(|step| {
            reached
                .iter()
                .filter(|r| usize::from(r.level) >= step)
                .map(|r| r.users)
                .sum()
        })
        .collect();
    let ratio = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| FunnelStep {
            event: step.event.clone(),
            count: counts[i],
            conversion_from_first: ratio(counts[i], counts[0]),
            conversion_from_previous: if i == 0 {
                1.0
            } else {
                ratio(counts[i], counts[i - 1])
            },
        })
        .collect()
}

#[derive(Debug, Row, Deserialize)]
struct CohortCell {
    cohort: u32,
    offset: u32,
    users: u64,
}

/// `POST /api/query/retention {start_event, return_event, period: day|week, periods}`: users
/// grouped by the period of their first start event in the range; for each cohort, how many
/// did the return event 0, 1, … periods later (within the range), as counts and percentages.
#[utoipa::path(
    post,
    path = "/api/query/retention",
    tag = "query",
    security(("bearer" = [])),
    params(crate::openapi::ScopeParams),
    request_body = RetentionRequest,
    responses(
        (status = 200, description = "cohorts by their first start event, with their returns per period", body = RetentionResponse),
        crate::openapi::ScopeErrors,
        crate::openapi::QueryTimeout,
        (status = 413, description = "the request body is too large", body = contract::ErrorBody),
    )
)]
pub async fn retention(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): Params,
    JsonBody(request): JsonBody<RetentionRequest>,
) -> Response {
    let outcome = async {
        let scope = state.scope(&headers, &params).await?;
        let days_per_period = match request.period.as_str() {
            "day" => 1,
            "week" => 7,
            other => {
                return Err(QueryError::Invalid(format!(
                    "period {other:?} is not day or week"
                )));
            }
        };
        if !(1..=MAX_PERIODS).contains(&request.periods) {
            return Err(QueryError::Invalid(format!(
                "periods must be from 1 to {MAX_PERIODS}"
            )));
        }
        for name in [&request.start_event, &request.return_event] {
            if name.is_empty() || name.chars().count() > 200 {
                return Err(QueryError::Invalid(
                    "start_event and return_event are event names of at most 200 characters"
                        .to_owned(),
                ));
            }
        }
        // A period is named by the day number (days since 1970-01-01, in the project's zone) of
        // its first day: the day itself, or the Monday of the week.
        let period_sql = if days_per_period == 1 {
            "toUInt32(toDate(timestamp, ?))"
        } else {
            "toUInt32(toMonday(timestamp, ?))"
        };
        let text = format!(
            "SELECT cohort, offset, toUInt64(count()) AS users FROM ( \
               SELECT first AS cohort, arrayJoin(arrayConcat([toUInt32(0)], \
                 arrayMap(r -> toUInt32(intDiv(r - first, {days_per_period}) + 1), \
                   arrayFilter(r -> r >= first, returns)))) AS offset \
               FROM ( \
                 SELECT user_hash, minIf(period, event = ?) AS first, \
                   groupUniqArrayIf(period, event = ?) AS returns, countIf(event = ?) AS starts \
                 FROM (SELECT user_hash, event, {period_sql} AS period FROM events \
                       WHERE {scope} AND event IN (?, ?)) \
                 GROUP BY user_hash HAVING starts > 0)) \
             WHERE offset <= ? GROUP BY cohort, offset ORDER BY cohort, offset",
            scope = scope.where_sql(),
        );
        let query = state
            .clickhouse
            .query(&text)
            .bind(request.start_event.as_str())
            .bind(request.return_event.as_str())
            .bind(request.start_event.as_str())
            .bind(scope.zone_name.as_str());
        let query = scope
            .bind(query, &scope.range)
            .bind(request.start_event.as_str())
            .bind(request.return_event.as_str())
            .bind(request.periods);
        let cells: Vec<CohortCell> = state.fetch_all(query).await?;
        Ok(retention_body(
            &scope,
            &cells,
            request.periods,
            days_per_period,
        ))
    }
    .await;
    state.finish(outcome)
}

/// Offset 0 of a cohort counts its size (every user of the cohort, marked by the `first`
/// entry); offset k ≥ 1 counts the users who did the return event k − 1 periods after the
/// cohort's period, so returns in the start period itself are offset 1 → `returned[0]`.
fn retention_body(
    scope: &Scope,
    cells: &[CohortCell],
    periods: u32,
    days_per_period: u32,
) -> RetentionResponse {
    let mut cohorts: Vec<Cohort> = Vec::new();
    let mut current: Option<(u32, u64, Vec<u64>)> = None;
    let flush = |entry: Option<(u32, u64, Vec<u64>)>, cohorts: &mut Vec<Cohort>| {
        if let Some((day, size, returned)) = entry {
            let start = jiff::civil::date(1970, 1, 1)
                .checked_add(jiff::Span::new().days(i64::from(day)))
                .map(|d| d.to_string())
                .unwrap_or_default();
            let percent: Vec<f64> = returned
                .iter()
                .map(|n| {
                    if size == 0 {
                        0.0
                    } else {
                        *n as f64 * 100.0 / size as f64
                    }
                })
                .collect();
            cohorts.push(Cohort {
                start,
                size,
                returned,
                percent,
            });
        }
    };
    for cell in cells {
        if current
            .as_ref()
            .is_none_or(|(day, _, _)| *day != cell.cohort)
        {
            flush(current.take(), &mut cohorts);
            current = Some((cell.cohort, 0, vec![0; periods as usize]));
        }
        if let Some((_, size, returned)) = current.as_mut() {
            match cell.offset {
                0 => *size = cell.users,
                k => {
                    if let Some(slot) = returned.get_mut((k - 1) as usize) {
                        *slot = cell.users;
                    }
                }
            }
        }
    }
    flush(current.take(), &mut cohorts);
    RetentionResponse {
        scope: scope.to_wire(),
        period_days: days_per_period,
        cohorts,
    }
}
