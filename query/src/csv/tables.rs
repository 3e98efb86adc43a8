//! Each answer of the query API as a CSV table: what its rows are and what its file is called.

use contract::query::{
    Amount, CatalogResponse, EventResponse, EventView, EventsPage, FunnelResponse, FunnelStep,
    OverviewResponse, PersonResponse, PersonView, PersonsPage, RetentionResponse, TopResponse,
    TrendSeries, TrendsResponse,
};

use super::{Csv, fraction, number, text};

/// An answer that reads as one table.
pub(crate) trait Tabular {
    /// The table.
    fn csv(&self) -> Csv;
    /// The download's name, without `.csv`.
    fn file_name(&self) -> String;
}

/// The columns of an event, as the explorer's CSV has them.
pub(crate) const EVENT_HEADER: &[&str] = &[
    "timestamp",
    "event",
    "distinct_id",
    "user_id",
    "session_id",
    "event_id",
    "kind",
    "url",
    "host",
    "path",
    "referrer",
    "referrer_domain",
    "browser",
    "os",
    "device_type",
    "lib",
    "received_at",
    "properties",
];

/// The fields of `event` in the order of [`EVENT_HEADER`]; its properties as one JSON object.
pub(crate) fn event_fields(event: &EventView) -> Vec<String> {
    let context = &event.context;
    let properties = serde_json::to_string(&event.properties).unwrap_or_default();
    [
        event.timestamp.as_str(),
        &event.event,
        &event.distinct_id,
        event.user_id.as_deref().unwrap_or_default(),
        event.session_id.as_deref().unwrap_or_default(),
        &event.event_id.to_string(),
        &event.kind,
        &context.url,
        &context.host,
        &context.path,
        &context.referrer,
        &context.referrer_domain,
        &context.browser,
        &context.os,
        &context.device_type,
        &context.lib,
        &event.received_at,
        &properties,
    ]
    .into_iter()
    .map(|field| text(field).into_owned())
    .collect()
}

/// A table of `events`, a row each.
fn events_table(events: &[EventView]) -> Csv {
    let mut csv = Csv::new(EVENT_HEADER);
    for event in events {
        csv.row(event_fields(event));
    }
    csv
}

fn amount(value: Amount) -> String {
    match value {
        Amount::Whole(whole) => number(whole),
        Amount::Fraction(fraction_value) => fraction(fraction_value),
    }
}

impl Tabular for OverviewResponse {
    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&["figure", "value", "previous", "change"]);
        for (name, figure) in &self.figures {
            csv.row([
                text(name).into_owned(),
                fraction(figure.value),
                fraction(figure.previous),
                figure.change.map(fraction).unwrap_or_default(),
            ]);
        }
        csv
    }

    fn file_name(&self) -> String {
        "overview".to_owned()
    }
}

impl Tabular for TrendsResponse {
    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&["period", "series", "breakdown_value", "t", "value"]);
        let mut rows = |period: &str, series: &[TrendSeries]| {
            for one in series {
                for point in &one.points {
                    csv.row([
                        period.to_owned(),
                        text(&one.label).into_owned(),
                        text(&one.breakdown_value).into_owned(),
                        text(&point.t).into_owned(),
                        amount(point.value),
                    ]);
                }
            }
        };
        rows("current", &self.series);
        if let Some(previous) = &self.previous_series {
            rows("previous", previous);
        }
        csv
    }

    fn file_name(&self) -> String {
        format!("trends-{}", self.interval)
    }
}

impl Tabular for TopResponse {
    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&["value", "count", "users"]);
        for value in &self.values {
            csv.row([
                text(&value.value).into_owned(),
                number(value.count),
                number(value.users),
            ]);
        }
        csv
    }

    fn file_name(&self) -> String {
        format!("top-{}", self.dimension)
    }
}

impl Tabular for FunnelResponse {
    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "breakdown_value",
            "step",
            "event",
            "count",
            "conversion_from_first",
            "conversion_from_previous",
        ]);
        let mut rows = |group: &str, steps: &[FunnelStep]| {
            for (index, step) in steps.iter().enumerate() {
                csv.row([
                    text(group).into_owned(),
                    number(index as u64 + 1),
                    text(&step.event).into_owned(),
                    number(step.count),
                    fraction(step.conversion_from_first),
                    fraction(step.conversion_from_previous),
                ]);
            }
        };
        rows("", &self.steps);
        for group in self.breakdown.iter().flatten() {
            rows(&group.value, &group.steps);
        }
        csv
    }

    fn file_name(&self) -> String {
        "funnel".to_owned()
    }
}

impl Tabular for RetentionResponse {
    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&["cohort", "size", "period", "returned", "percent"]);
        for cohort in &self.cohorts {
            for (period, (returned, percent)) in
                cohort.returned.iter().zip(&cohort.percent).enumerate()
            {
                csv.row([
                    text(&cohort.start).into_owned(),
                    number(cohort.size),
                    number(period as u64),
                    number(*returned),
                    fraction(*percent),
                ]);
            }
        }
        csv
    }

    fn file_name(&self) -> String {
        "retention".to_owned()
    }
}

impl Tabular for CatalogResponse {
    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&["kind", "name", "count"]);
        for event in &self.events {
            csv.row([
                "event".to_owned(),
                text(&event.event).into_owned(),
                number(event.count),
            ]);
        }
        for property in &self.properties {
            csv.row([
                "property".to_owned(),
                text(&property.key).into_owned(),
                number(property.count),
            ]);
        }
        csv
    }

    fn file_name(&self) -> String {
        "catalog".to_owned()
    }
}

impl Tabular for EventsPage {
    fn csv(&self) -> Csv {
        events_table(&self.events)
    }

    fn file_name(&self) -> String {
        "events".to_owned()
    }
}

impl Tabular for EventResponse {
    fn csv(&self) -> Csv {
        events_table(std::slice::from_ref(&self.event))
    }

    fn file_name(&self) -> String {
        format!("event-{}", self.event.event_id)
    }
}

/// The columns of a person.
const PERSON_HEADER: &[&str] = &[
    "id",
    "distinct_ids",
    "first_seen",
    "last_seen",
    "properties",
];

fn person_fields(person: &PersonView) -> Vec<String> {
    let properties = serde_json::to_string(&person.properties).unwrap_or_default();
    [
        person.id.to_string().as_str(),
        &serde_json::to_string(&person.distinct_ids).unwrap_or_default(),
        person.first_seen.as_deref().unwrap_or_default(),
        person.last_seen.as_deref().unwrap_or_default(),
        &properties,
    ]
    .into_iter()
    .map(|field| text(field).into_owned())
    .collect()
}

impl Tabular for PersonsPage {
    fn csv(&self) -> Csv {
        let mut csv = Csv::new(PERSON_HEADER);
        for person in &self.persons {
            csv.row(person_fields(person));
        }
        csv
    }

    fn file_name(&self) -> String {
        "persons".to_owned()
    }
}

/// A person's events (the page asked for), as the explorer's CSV has them.
impl Tabular for PersonResponse {
    fn csv(&self) -> Csv {
        events_table(&self.events)
    }

    fn file_name(&self) -> String {
        format!("person-{}", self.person.id)
    }
}
