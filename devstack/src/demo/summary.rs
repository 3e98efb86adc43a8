//! What a demo run generated and sent, and the lines it prints at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::plan::FUNNEL;
use super::wire::DemoEvent;

/// What a run generated and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Events sent, every one accepted.
    pub events: usize,
    pub requests: usize,
    pub visitors: usize,
    /// Visitors seen on more than one day.
    pub returning_visitors: usize,
    pub sessions: usize,
    /// Distinct visitors at each step of [`FUNNEL`] (each step counted on its own).
    pub funnel: [usize; 4],
    /// Distinct UTC days with events.
    pub days: usize,
    pub first: Option<OffsetDateTime>,
    pub last: Option<OffsetDateTime>,
    pub elapsed: Duration,
}

impl Summary {
    /// The figures of `events`, before anything is sent.
    pub(crate) fn of(events: &[DemoEvent]) -> Self {
        let mut days_by_visitor: BTreeMap<&str, BTreeSet<time::Date>> = BTreeMap::new();
        let mut sessions = BTreeSet::new();
        let mut steps: [BTreeSet<&str>; 4] = Default::default();
        for event in events {
            days_by_visitor
                .entry(&event.distinct_id)
                .or_default()
                .insert(event.timestamp.date());
            if let Some(Value::String(session)) = event.properties.get("$session_id") {
                sessions.insert(session.as_str());
            }
            if let Some(step) = FUNNEL.iter().position(|name| *name == event.event) {
                steps[step].insert(&event.distinct_id);
            }
        }
        let days: BTreeSet<time::Date> = events.iter().map(|e| e.timestamp.date()).collect();
        Self {
            events: events.len(),
            requests: 0,
            visitors: days_by_visitor.len(),
            returning_visitors: days_by_visitor.values().filter(|d| d.len() > 1).count(),
            sessions: sessions.len(),
            funnel: steps.map(|users| users.len()),
            days: days.len(),
            first: events.first().map(|e| e.timestamp),
            last: events.last().map(|e| e.timestamp),
            elapsed: Duration::ZERO,
        }
    }

    /// The lines printed at the end of a run, with where to look.
    pub fn report(&self, url: &str) -> String {
        let seconds = self.elapsed.as_secs_f64().max(0.001);
        let date = |at: Option<OffsetDateTime>| at.map(|at| at.date().to_string());
        format!(
            "demo: {} events in {} requests, {:.1} s ({:.0} events/s)\n\
             \x20 {} visitors ({} came back on another day), {} sessions, over {} days ({} to {})\n\
             \x20 funnel: {} viewed a product, {} added to the cart, {} started checkout, {} ordered\n\
             open {url}/analytics and sign in as an admin to look around (built-in project)",
            self.events,
            self.requests,
            seconds,
            self.events as f64 / seconds,
            self.visitors,
            self.returning_visitors,
            self.sessions,
            self.days,
            date(self.first).unwrap_or_default(),
            date(self.last).unwrap_or_default(),
            self.funnel[0],
            self.funnel[1],
            self.funnel[2],
            self.funnel[3],
        )
    }
}
