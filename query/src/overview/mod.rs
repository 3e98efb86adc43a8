//! The overview: events, unique users, pageviews, and the sessions that started in the range
//! with their bounce rate, average length and pages per session, each with the same figure for
//! the previous period of equal length. Without filters the figures come from days kept
//! between requests (`days`, the dashboard's landing view); with filters straight from the
//! tables (`raw`).

mod days;
mod raw;
mod slices;
mod totals;

use std::collections::BTreeMap;

use contract::query::{Figure, OverviewResponse};

pub(crate) use days::DayCache;

use crate::error::Error;
use crate::scope::Scope;
use crate::store::Store;

/// The figures of the scope's range and of the period before it.
pub(crate) async fn overview(
    store: &Store,
    cache: &DayCache,
    scope: &Scope,
) -> Result<OverviewResponse, Error> {
    let [current, previous] = if scope.filters.is_empty() {
        days::totals(store, cache, scope).await?
    } else {
        raw::totals(store, scope).await?
    };
    let before = previous.figures();
    let mut figures = BTreeMap::new();
    for (name, value) in current.figures() {
        let previous = before
            .iter()
            .find(|(previous, _)| *previous == name)
            .map_or(0.0, |(_, value)| *value);
        let change = (previous != 0.0).then(|| (value - previous) / previous);
        figures.insert(
            name.to_owned(),
            Figure {
                value,
                previous,
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
