//! What the analytics page shows, as the query string of its address: a reload or a shared link
//! opens the same view.

use contract::query::FilterSpec;

use super::dates::{Preset, parse_date};

/// The tabs of the page, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Overview,
    Places,
    Acquisition,
    Funnel,
    Retention,
    Live,
    Explorer,
    Persons,
}

impl Tab {
    pub(crate) const ALL: [Tab; 8] = [
        Tab::Overview,
        Tab::Places,
        Tab::Acquisition,
        Tab::Funnel,
        Tab::Retention,
        Tab::Live,
        Tab::Explorer,
        Tab::Persons,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tab::Overview => "overview",
            Tab::Places => "places",
            Tab::Acquisition => "acquisition",
            Tab::Funnel => "funnel",
            Tab::Retention => "retention",
            Tab::Live => "live",
            Tab::Explorer => "explorer",
            Tab::Persons => "persons",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Places => "Places",
            Tab::Acquisition => "Acquisition",
            Tab::Funnel => "Funnel",
            Tab::Retention => "Retention",
            Tab::Live => "Live",
            Tab::Explorer => "Explorer",
            Tab::Persons => "Persons",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Tab::ALL.into_iter().find(|tab| tab.as_str() == text)
    }
}

/// Everything the address holds. Defaults are left out of the query string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ViewState {
    pub(crate) tab: Tab,
    /// The project's id; empty until the project list chose one.
    pub(crate) project: String,
    pub(crate) preset: Preset,
    /// `YYYY-MM-DD`, inclusive; what the preset gives unless it is custom.
    pub(crate) from: String,
    pub(crate) to: String,
    /// Conditions on every query of the page.
    pub(crate) filters: Vec<FilterSpec>,
    pub(crate) interval: String,
    /// `count` (events) or `uniques` (users).
    pub(crate) measure: String,
    /// A dimension, or empty for one series.
    pub(crate) breakdown: String,
    /// Only this event in the trends chart (empty: all).
    pub(crate) event: String,
    pub(crate) line: bool,
    pub(crate) compare: bool,
    /// Funnel steps, by event name.
    pub(crate) steps: Vec<String>,
    pub(crate) window_seconds: u64,
    pub(crate) start_event: String,
    pub(crate) return_event: String,
    /// `day` or `week`.
    pub(crate) period: String,
    pub(crate) periods: u32,
    /// The explorer's event name.
    pub(crate) explore_event: String,
    /// A narrower window of the explorer (a chart bucket), as RFC 3339 instants.
    pub(crate) at_from: String,
    pub(crate) at_to: String,
    /// The persons tab's search text.
    pub(crate) search: String,
    /// The person the persons tab shows (their id), or empty for the list.
    pub(crate) person: String,
    /// Count the events ingest flagged as bots' too (every query leaves them out otherwise).
    pub(crate) include_bots: bool,
}

impl ViewState {
    /// The page as it opens without a query string, `today` being `YYYY-MM-DD`.
    pub(crate) fn new(today: &str) -> Self {
        let (from, to) = Preset::Days7
            .days(today)
            .unwrap_or_else(|| (today.to_owned(), today.to_owned()));
        Self {
            tab: Tab::Overview,
            project: String::new(),
            preset: Preset::Days7,
            from,
            to,
            filters: Vec::new(),
            interval: "day".to_owned(),
            measure: "count".to_owned(),
            breakdown: String::new(),
            event: String::new(),
            line: false,
            compare: false,
            steps: vec![String::new(), String::new()],
            window_seconds: 86_400,
            start_event: String::new(),
            return_event: String::new(),
            period: "day".to_owned(),
            periods: 7,
            explore_event: String::new(),
            at_from: String::new(),
            at_to: String::new(),
            search: String::new(),
            person: String::new(),
            include_bots: false,
        }
    }

    /// The view `search` (a query string, with or without its `?`) describes; what it does not
    /// say, or says wrongly, keeps the defaults.
    pub(crate) fn decode(search: &str, today: &str) -> Self {
        let mut state = Self::new(today);
        let mut from = None;
        let mut to = None;
        for (name, value) in crate::api::query_pairs(search) {
            match name.as_str() {
                "tab" => state.tab = Tab::parse(&value).unwrap_or(state.tab),
                "project" => state.project = value,
                "range" => state.preset = Preset::parse(&value).unwrap_or(state.preset),
                "from" if parse_date(&value).is_some() => from = Some(value),
                "to" if parse_date(&value).is_some() => to = Some(value),
                "filters" => {
                    state.filters = serde_json::from_str(&value).unwrap_or_default();
                }
                "interval" if matches!(value.as_str(), "hour" | "day" | "week" | "month") => {
                    state.interval = value;
                }
                "measure" if matches!(value.as_str(), "count" | "uniques") => {
                    state.measure = value;
                }
                "breakdown" => state.breakdown = value,
                "event" => state.event = value,
                "chart" => state.line = value == "line",
                "compare" => state.compare = value == "1",
                "steps" => {
                    let mut steps: Vec<String> = serde_json::from_str(&value).unwrap_or_default();
                    steps.truncate(contract::query::MAX_STEPS);
                    while steps.len() < 2 {
                        steps.push(String::new());
                    }
                    state.steps = steps;
                }
                "window" => {
                    if let Ok(seconds) = value.parse::<u64>() {
                        state.window_seconds =
                            seconds.clamp(1, contract::query::MAX_WINDOW_SECONDS);
                    }
                }
                "start" => state.start_event = value,
                "return" => state.return_event = value,
                "period" if matches!(value.as_str(), "day" | "week") => state.period = value,
                "periods" => {
                    if let Ok(periods) = value.parse::<u32>() {
                        state.periods = periods.clamp(1, contract::query::MAX_PERIODS);
                    }
                }
                "name" => state.explore_event = value,
                "at_from" => state.at_from = value,
                "at_to" => state.at_to = value,
                "q" => state.search = value,
                "person" => state.person = value,
                "bots" => state.include_bots = value == "1",
                _ => {}
            }
        }
        match (from, to) {
            (Some(from), Some(to)) if from <= to => {
                state.preset = Preset::Custom;
                state.from = from;
                state.to = to;
            }
            _ => {
                if state.preset == Preset::Custom {
                    state.preset = Preset::Days7;
                }
                if let Some((from, to)) = state.preset.days(today) {
                    state.from = from;
                    state.to = to;
                }
            }
        }
        state
    }

    /// The query string (without `?`) that [`ViewState::decode`] reads back as this view.
    pub(crate) fn encode(&self) -> String {
        let defaults = Self::new(&self.to);
        let mut pairs: Vec<(&str, String)> = vec![("tab", self.tab.as_str().to_owned())];
        pairs.push(("project", self.project.clone()));
        if self.preset == Preset::Custom {
            pairs.push(("from", self.from.clone()));
            pairs.push(("to", self.to.clone()));
        } else {
            pairs.push(("range", self.preset.as_str().to_owned()));
        }
        if !self.filters.is_empty() {
            pairs.push(("filters", json(&self.filters)));
        }
        pairs.push(("interval", self.interval.clone()));
        if self.measure != defaults.measure {
            pairs.push(("measure", self.measure.clone()));
        }
        pairs.push(("breakdown", self.breakdown.clone()));
        pairs.push(("event", self.event.clone()));
        if self.line {
            pairs.push(("chart", "line".to_owned()));
        }
        if self.compare {
            pairs.push(("compare", "1".to_owned()));
        }
        if self.steps.iter().any(|step| !step.is_empty()) {
            pairs.push(("steps", json(&self.steps)));
        }
        if self.window_seconds != defaults.window_seconds {
            pairs.push(("window", self.window_seconds.to_string()));
        }
        pairs.push(("start", self.start_event.clone()));
        pairs.push(("return", self.return_event.clone()));
        if self.period != defaults.period {
            pairs.push(("period", self.period.clone()));
        }
        if self.periods != defaults.periods {
            pairs.push(("periods", self.periods.to_string()));
        }
        pairs.push(("name", self.explore_event.clone()));
        pairs.push(("at_from", self.at_from.clone()));
        pairs.push(("at_to", self.at_to.clone()));
        pairs.push(("q", self.search.clone()));
        pairs.push(("person", self.person.clone()));
        if self.include_bots {
            pairs.push(("bots", "1".to_owned()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        crate::api::with_query("", &pairs)
            .trim_start_matches('?')
            .to_owned()
    }

    /// The `filter` parameter of the queries: the page's filters as JSON, empty when none.
    pub(crate) fn filter_param(&self) -> String {
        if self.filters.is_empty() {
            String::new()
        } else {
            json(&self.filters)
        }
    }

    /// The `include_bots` parameter of the queries: `true` when asked for, else empty (left out).
    pub(crate) fn bots_param(&self) -> &'static str {
        if self.include_bots { "true" } else { "" }
    }

    /// The funnel steps that name an event.
    pub(crate) fn named_steps(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|step| step.trim().to_owned())
            .filter(|step| !step.is_empty())
            .collect()
    }
}

/// Plain data (strings, the filters) as JSON: serialising it cannot fail.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A filter of `key` equal to `value`, as the API reads it.
pub(crate) fn equals(key: &str, value: &str) -> FilterSpec {
    FilterSpec {
        key: key.to_owned(),
        op: "eq".to_owned(),
        value: Some(serde_json::Value::String(value.to_owned())),
    }
}

/// How a filter reads on its chip: `path = /pricing`, `plan is set`.
pub(crate) fn describe(filter: &FilterSpec) -> String {
    let key = filter.key.strip_prefix("property:").unwrap_or(&filter.key);
    let value = match &filter.value {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let op = match filter.op.as_str() {
        "eq" => "=",
        "neq" => "≠",
        "contains" => "contains",
        "set" => return format!("{key} is set"),
        "not_set" => return format!("{key} is not set"),
        "gt" => ">",
        "gte" => "≥",
        "lt" => "<",
        "lte" => "≤",
        other => other,
    };
    format!("{key} {op} {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_survives_its_address() {
        let mut view = ViewState::new("2026-11-30");
        view.tab = Tab::Explorer;
        view.project = "00000000-0000-4000-8000-000000000001".to_owned();
        view.preset = Preset::Custom;
        view.from = "2026-11-02".to_owned();
        view.to = "2026-11-08".to_owned();
        view.filters = vec![
            equals("path", "/pricing & plans"),
            equals("property:plan", "pro"),
        ];
        view.interval = "hour".to_owned();
        view.breakdown = "property:plan".to_owned();
        view.line = true;
        view.compare = true;
        view.steps = vec![
            "signup".to_owned(),
            "view item".to_owned(),
            "buy".to_owned(),
        ];
        view.window_seconds = 3_600;
        view.period = "week".to_owned();
        view.periods = 4;
        view.explore_event = "buy".to_owned();
        view.at_from = "2026-11-03T00:00:00+01:00".to_owned();
        view.at_to = "2026-11-04T00:00:00+01:00".to_owned();
        view.search = "ada lovelace".to_owned();
        view.person = "00000000-0000-5000-8000-000000000002".to_owned();
        view.include_bots = true;
        let search = view.encode();
        assert!(search.starts_with("tab=explorer&project="), "{search}");
        assert!(!search.contains(' '), "{search}");
        assert_eq!(ViewState::decode(&format!("?{search}"), "2030-01-01"), view);
    }

    #[test]
    fn a_preset_stays_relative_and_nonsense_keeps_the_defaults() {
        let view = ViewState::decode("range=30d&tab=nope&interval=year&steps=%5B1", "2026-11-30");
        assert_eq!(view.preset, Preset::Days30);
        assert_eq!(
            (view.from.as_str(), view.to.as_str()),
            ("2026-11-01", "2026-11-30")
        );
        assert_eq!(view.tab, Tab::Overview);
        assert_eq!(view.interval, "day");
        assert_eq!(view.steps, vec![String::new(), String::new()]);
        assert_eq!(
            ViewState::decode("", "2026-11-30"),
            ViewState::new("2026-11-30")
        );
        let view = ViewState::decode("from=2026-11-09&to=2026-11-02", "2026-11-30");
        assert_eq!(
            view.preset,
            Preset::Days7,
            "a range that ends before it starts"
        );
    }

    #[test]
    fn filters_read_as_short_sentences() {
        assert_eq!(describe(&equals("property:plan", "pro")), "plan = pro");
        let set = FilterSpec {
            key: "referrer".to_owned(),
            op: "set".to_owned(),
            value: None,
        };
        assert_eq!(describe(&set), "referrer is set");
    }
}
