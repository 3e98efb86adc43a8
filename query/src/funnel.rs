//! Funnels: how many users (persons: every distinct id linked into one, so an anonymous visit
//! and a purchase after logging in are one journey) did each step in order within a conversion
//! window of their first step (ClickHouse `windowFunnel`), conversion from the first and the
//! previous step, median time to convert, optionally broken down by a dimension of the first
//! step.

use clickhouse::Row;
use contract::query::{
    FunnelGroup, FunnelRequest, FunnelResponse, FunnelStep, FunnelStepSpec, MAX_STEPS,
    MAX_WINDOW_SECONDS,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::Error;
use crate::params;
use crate::params::dimension::Dimension;
use crate::params::filter::{Bound, Filter, bind_all};
use crate::persons::sql::{PERSON, join};
use crate::scope::Scope;
use crate::store::Store;

/// A step as SQL: `event = ?` and its filters, with the values to bind in order.
struct Step {
    event: String,
    sql: String,
    binds: Vec<Bound>,
}

impl Step {
    fn parse(spec: FunnelStepSpec, project: Uuid) -> Result<Self, Error> {
        if spec.event.is_empty() || spec.event.chars().count() > 200 {
            return Err(Error::Invalid(
                "every step needs an event name of at most 200 characters".to_owned(),
            ));
        }
        let mut sql = "event = ?".to_owned();
        let mut binds = vec![Bound::Text(spec.event.clone())];
        for filter in spec.filters {
            let filter = Filter::from_spec(filter, project)?;
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

/// A funnel request, checked.
struct Funnel {
    steps: Vec<Step>,
    window_seconds: u64,
    breakdown: Option<Dimension>,
    /// How many breakdown values get a group of their own before the rest is "other".
    limit: usize,
}

impl Funnel {
    fn check(request: FunnelRequest, project: Uuid) -> Result<Self, Error> {
        if !(2..=MAX_STEPS).contains(&request.steps.len()) {
            return Err(Error::Invalid(format!(
                "a funnel has 2 to {MAX_STEPS} steps"
            )));
        }
        if !(1..=MAX_WINDOW_SECONDS).contains(&request.window_seconds) {
            return Err(Error::Invalid(format!(
                "window_seconds must be from 1 to {MAX_WINDOW_SECONDS}"
            )));
        }
        let steps = request
            .steps
            .into_iter()
            .map(|step| Step::parse(step, project))
            .collect::<Result<Vec<_>, _>>()?;
        let breakdown = request
            .breakdown
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(Dimension::parse)
            .transpose()?;
        let limit = params::limit(request.limit.map(|n| n.to_string()).as_deref(), 5)?;
        Ok(Self {
            steps,
            window_seconds: request.window_seconds,
            breakdown,
            limit,
        })
    }
}

#[derive(Debug, Clone, Row, Deserialize)]
struct Reached {
    /// The breakdown value ('' without a breakdown).
    label: String,
    level: u8,
    users: u64,
    /// Median seconds from the first step to the last, over the users who converted: exact up
    /// to 8 192 of them, beyond that of a sample chosen by the person's hash, so that the same
    /// events give the same median at every call (ClickHouse's `median` samples at random).
    median_seconds: f64,
}

/// Users per step of `request` in the scope, with conversions and the median time to convert.
pub(crate) async fn funnel(
    store: &Store,
    scope: &Scope,
    request: FunnelRequest,
) -> Result<FunnelResponse, Error> {
    let funnel = Funnel::check(request, scope.project)?;
    let overall = levels(store, scope, &funnel, None).await?;
    let median = overall
        .iter()
        .find(|r| usize::from(r.level) == funnel.steps.len())
        .map(|r| r.median_seconds);
    let mut body = FunnelResponse {
        scope: scope.to_wire(),
        steps: funnel_steps(&funnel.steps, &overall),
        window_seconds: funnel.window_seconds,
        median_seconds_to_convert: median,
        breakdown: None,
    };
    if let Some(dimension) = &funnel.breakdown {
        // Each user counts under the value of their first step's event.
        let rows = levels(store, scope, &funnel, Some(dimension)).await?;
        body.breakdown = Some(groups(&funnel, &rows));
    }
    Ok(body)
}

/// The steps per breakdown value: the `limit` values with the most users, then "other".
fn groups(funnel: &Funnel, rows: &[Reached]) -> Vec<FunnelGroup> {
    let mut labels: Vec<(String, u64)> = Vec::new();
    for row in rows {
        match labels.iter_mut().find(|(label, _)| *label == row.label) {
            Some((_, users)) => *users += row.users,
            None => labels.push((row.label.clone(), row.users)),
        }
    }
    labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let (shown, rest) = labels.split_at(labels.len().min(funnel.limit));
    let mut groups: Vec<FunnelGroup> = shown
        .iter()
        .map(|(label, _)| {
            let mine: Vec<Reached> = rows.iter().filter(|r| r.label == *label).cloned().collect();
            FunnelGroup {
                value: label.clone(),
                steps: funnel_steps(&funnel.steps, &mine),
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
            steps: funnel_steps(&funnel.steps, &others),
        });
    }
    groups
}

/// Users per deepest level reached (and breakdown value), with the median time to convert.
async fn levels(
    store: &Store,
    scope: &Scope,
    funnel: &Funnel,
    breakdown: Option<&Dimension>,
) -> Result<Vec<Reached>, Error> {
    let steps = &funnel.steps;
    let conditions: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
    let last = &steps[steps.len() - 1];
    let first = &steps[0];
    let label = match breakdown {
        None => "''".to_owned(),
        Some(dimension) => format!("argMinIf({}, timestamp, {})", dimension.sql(), first.sql),
    };
    let persons = join(scope.project, breakdown.and_then(Dimension::person_key));
    // Per person: the deepest step reached in order within the window, and (for the median)
    // the first time of the first step and the first time of the last step after it.
    let text = format!(
        "SELECT label, level, toUInt64(count()) AS users, \
           toFloat64(ifNull(quantileDeterministic(0.5)(if(level = {n}, finished - started, NULL), person), 0)) AS median_seconds \
         FROM ( \
           SELECT {PERSON} AS person, windowFunnel(?)(timestamp, {conditions}) AS level, \
             minIf(toUInt32(timestamp), {first_sql}) AS started, \
             arrayReduce('min', arrayFilter(t -> t >= started, groupArrayIf(toUInt32(timestamp), {last_sql}))) AS finished, \
             {label} AS label \
           FROM events{persons} WHERE {scope} AND event IN ({names}) GROUP BY person) \
         WHERE level > 0 GROUP BY label, level ORDER BY label, level",
        n = steps.len(),
        conditions = conditions.join(", "),
        first_sql = first.sql,
        last_sql = last.sql,
        persons = persons.sql,
        scope = scope.where_sql(),
        names = plumbing::clickhouse::placeholders(steps.len()),
    );
    let mut query = store.query(&text).bind(funnel.window_seconds);
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
    // Only the steps' events: a person without any reached no step.
    let mut query = scope.bind(persons.bind(query), &scope.range);
    for step in steps {
        query = query.bind(step.event.as_str());
    }
    Ok(store.fetch_all(query).await?)
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
