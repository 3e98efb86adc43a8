//! What every tab of the analytics page shares (the session, the view held in the address, the
//! project list and the catalogue) and the small helpers the tabs' controls use.

use contract::auth::ProjectSummary;
use contract::query::{CatalogResponse, FilterSpec};
use sycamore::prelude::*;

use super::load::{Load, Loader};
use super::url::{Tab, ViewState};
use crate::api;
pub(crate) use crate::browser::target_value;
use crate::session::Session;
use crate::tracker::Tracker;

/// The dimensions of the overview's top tables and the breakdown, with their titles.
pub(crate) const DIMENSIONS: [(&str, &str); 6] = [
    ("path", "Pages"),
    ("referrer", "Referrers"),
    ("browser", "Browsers"),
    ("os", "Operating systems"),
    ("device", "Devices"),
    ("event", "Events"),
];

/// The dimensions of the places and acquisition tabs, which the breakdown and the filters
/// offer too.
pub(crate) const MORE_DIMENSIONS: [(&str, &str); 9] = [
    ("country", "Countries"),
    ("region", "Regions"),
    ("city", "Cities"),
    ("channel", "Channels"),
    ("utm_source", "UTM sources"),
    ("utm_medium", "UTM media"),
    ("utm_campaign", "UTM campaigns"),
    ("utm_term", "UTM terms"),
    ("utm_content", "UTM contents"),
];

/// Every dimension a breakdown or a filter may name without `property:`.
pub(crate) fn all_dimensions() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    DIMENSIONS.iter().chain(MORE_DIMENSIONS.iter())
}

/// What the tabs share: the session, the view (the address) and what every tab reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub(crate) session: Session,
    /// The app's own analytics: what the page's controls were used for.
    pub(crate) tracker: Tracker,
    pub(crate) view: Signal<ViewState>,
    pub(crate) projects: Signal<Load<Vec<ProjectSummary>>>,
    pub(crate) catalog: Loader<CatalogResponse>,
    /// The width the charts may take, in pixels.
    pub(crate) width: Signal<f64>,
}

impl Page {
    /// The parameters every query takes, for the view `v`: project, range and filters.
    pub(crate) fn scope(v: &ViewState) -> Vec<(&'static str, String)> {
        vec![
            ("project_id", v.project.clone()),
            ("from", v.from.clone()),
            ("to", v.to.clone()),
            ("filter", v.filter_param()),
            ("include_bots", v.bots_param().to_owned()),
        ]
    }

    /// `path` with the scope of `v` and `more`.
    pub(crate) fn path(v: &ViewState, path: &str, more: &[(&str, &str)]) -> String {
        let scope = Self::scope(v);
        let mut pairs: Vec<(&str, &str)> = scope.iter().map(|(n, v)| (*n, v.as_str())).collect();
        pairs.extend_from_slice(more);
        api::with_query(path, &pairs)
    }

    /// Adds `filter` to the view's, once.
    pub(crate) fn add_filter(self, filter: FilterSpec) {
        // The key only: a value may be somebody's id.
        let mut properties = serde_json::Map::new();
        properties.insert("key".to_owned(), filter.key.clone().into());
        self.tracker.capture("filter_added", properties);
        self.view.update(|v| {
            if !v.filters.contains(&filter) {
                v.filters.push(filter);
            }
        });
    }

    /// Opens the persons tab on the person `distinct_id` belongs to (the API answers the merged
    /// person for any of their ids).
    pub(crate) fn open_person(self, distinct_id: &str) {
        let Some(project) = self
            .view
            .with_untracked(|v| uuid::Uuid::parse_str(&v.project).ok())
        else {
            return;
        };
        let person = contract::persons::person_id(project, distinct_id).to_string();
        self.tracker
            .capture("person_opened", serde_json::Map::new());
        self.view.update(|v| {
            v.tab = Tab::Persons;
            v.person = person;
        });
    }
}

/// Today's date in the browser's zone (a fixed day outside a browser).
pub(crate) fn today() -> String {
    if cfg!(target_arch = "wasm32") {
        let now = js_sys::Date::new_0();
        format!(
            "{:04}-{:02}-{:02}",
            now.get_full_year(),
            now.get_month() + 1,
            now.get_date()
        )
    } else {
        "2026-01-01".to_owned()
    }
}

/// The options of an event picker: "All events", every event of the catalogue, and `chosen`
/// even when the catalogue does not hold it (a shared link may name one); `chosen` selected.
pub(crate) fn event_options(page: Page, chosen: &str) -> Vec<View> {
    let mut names = vec![String::new()];
    if let Load::Ready(catalog) = page.catalog.state.get_clone() {
        names.extend(catalog.events.iter().map(|e| e.event.clone()));
    }
    if !names.iter().any(|name| name == chosen) {
        names.push(chosen.to_owned());
    }
    names
        .into_iter()
        .map(|name| {
            let selected = name == chosen;
            let title = if name.is_empty() {
                "All events".to_owned()
            } else {
                name.clone()
            };
            view! { option(value=name, selected=selected) { (title) } }
        })
        .collect()
}
