//! Retention: users (persons: every distinct id linked into one) grouped by the period of their
//! first start event in the range; for each cohort, how many did the return event 0, 1, …
//! periods later (within the range), as counts and percentages. Counted from the top values'
//! kept days where they can be (`kept`), else straight from the events.

mod kept;

use contract::query::{Cohort, MAX_PERIODS, RetentionRequest, RetentionResponse};

use self::kept::CohortCell;
use crate::error::Error;
use crate::persons::sql::{PERSON, join};
use crate::pieces;
use crate::scope::Scope;
use crate::store::Store;
use crate::top::TopDays;

/// The cohorts of `request` in the scope, with their returns per period.
pub(crate) async fn retention(
    store: &Store,
    days: &TopDays,
    scope: &Scope,
    request: RetentionRequest,
) -> Result<RetentionResponse, Error> {
    let days_per_period = check(&request)?;
    let kept = kept::cells(store, days, scope, &request, days_per_period).await;
    let cells = match pieces::or_events(kept, "retention")? {
        Some(cells) => cells,
        None => read(store, scope, &request, days_per_period).await?,
    };
    Ok(retention_body(
        scope,
        &cells,
        request.periods,
        days_per_period,
    ))
}

/// The cohorts' cells straight from the events, by cohort then offset.
async fn read(
    store: &Store,
    scope: &Scope,
    request: &RetentionRequest,
    days_per_period: u32,
) -> Result<Vec<CohortCell>, Error> {
    // A period is named by the day number (days since 1970-01-01, in the project's zone) of
    // its first day: the day itself, or the Monday of the week.
    let period_sql = if days_per_period == 1 {
        "toUInt32(toDate(timestamp, ?))"
    } else {
        "toUInt32(toMonday(timestamp, ?))"
    };
    // Each distinct id's first start and return periods first, then its person's: the links
    // are joined to one row per id instead of to every event (a fifth of the time on 10 M
    // events).
    let persons = join(scope.project, None);
    let text = format!(
        "SELECT cohort, offset, toUInt64(count()) AS users FROM ( \
           SELECT first AS cohort, arrayJoin(arrayConcat([toUInt32(0)], \
             arrayMap(r -> toUInt32(intDiv(r - first, {days_per_period}) + 1), \
               arrayFilter(r -> r >= first, returns)))) AS offset \
           FROM ( \
             SELECT {PERSON} AS person, minIf(id_first, id_starts > 0) AS first, \
               groupUniqArrayArray(id_returns) AS returns, sum(id_starts) AS starts \
             FROM ( \
               SELECT user_hash, minIf(period, event = ?) AS id_first, \
                 groupUniqArrayIf(period, event = ?) AS id_returns, \
                 countIf(event = ?) AS id_starts \
               FROM (SELECT user_hash, event, {period_sql} AS period \
                     FROM events WHERE {scope} AND event IN (?, ?)) \
               GROUP BY user_hash) AS ids{persons} \
             GROUP BY person HAVING starts > 0)) \
         WHERE offset <= ? GROUP BY cohort, offset ORDER BY cohort, offset",
        persons = persons.sql,
        scope = scope.where_sql(),
    );
    let query = store
        .query(&text)
        .bind(request.start_event.as_str())
        .bind(request.return_event.as_str())
        .bind(request.start_event.as_str())
        .bind(scope.zone_name.as_str());
    let query = scope
        .bind(query, &scope.range)
        .bind(request.start_event.as_str())
        .bind(request.return_event.as_str());
    let query = persons.bind(query).bind(request.periods);
    Ok(store.fetch_all(query).await?)
}

/// Checks the request; the days of its period.
fn check(request: &RetentionRequest) -> Result<u32, Error> {
    let days_per_period = match request.period.as_str() {
        "day" => 1,
        "week" => 7,
        other => {
            return Err(Error::Invalid(format!(
                "period {other:?} is not day or week"
            )));
        }
    };
    if !(1..=MAX_PERIODS).contains(&request.periods) {
        return Err(Error::Invalid(format!(
            "periods must be from 1 to {MAX_PERIODS}"
        )));
    }
    for name in [&request.start_event, &request.return_event] {
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::Invalid(
                "start_event and return_event are event names of at most 200 characters".to_owned(),
            ));
        }
    }
    Ok(days_per_period)
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
