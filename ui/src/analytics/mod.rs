//! Analytics, for analysts and admins: a project's overview and trends, funnels, retention,
//! the live feed and the event explorer. The address holds the whole view (see [`url`]).

mod charts;
mod explorer;
mod funnel;
mod live;
mod overview;
mod retention;
mod url;

use contract::auth::{ProjectSummaries, ProjectSummary};
use contract::query::{CatalogResponse, FilterSpec};
use serde::de::DeserializeOwned;
use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::api::{self, Action};
use crate::session::Session;
pub(crate) use url::{Preset, Tab, ViewState};

/// A call's state as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Load<T> {
    Idle,
    Loading,
    Ready(T),
    Failed(String),
}

/// The answer of one kind of call, of which only the last one asked for counts.
#[derive(Debug)]
pub(crate) struct Loader<T: 'static> {
    pub(crate) state: Signal<Load<T>>,
    /// The call whose answer is awaited or shown.
    wanted: Signal<String>,
}

impl<T> Clone for Loader<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Loader<T> {}

impl<T: DeserializeOwned + Clone + 'static> Default for Loader<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: DeserializeOwned + Clone + 'static> Loader<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: create_signal(Load::Idle),
            wanted: create_signal(String::new()),
        }
    }

    /// `GET path`, unless that is what is shown already.
    pub(crate) fn get(self, session: Session, path: String) {
        self.run(session, path, None);
    }

    /// `POST path` with `body`, unless that is what is shown already.
    pub(crate) fn post(self, session: Session, path: String, body: serde_json::Value) {
        self.run(session, path, Some(body));
    }

    /// Forgets the answer, so the next call runs even when it is the same.
    pub(crate) fn reset(self) {
        self.wanted.set(String::new());
        self.state.set(Load::Idle);
    }

    fn run(self, session: Session, path: String, body: Option<serde_json::Value>) {
        let key = format!(
            "{path} {}",
            body.as_ref().map(ToString::to_string).unwrap_or_default()
        );
        let failed = self.state.with_untracked(|s| matches!(s, Load::Failed(_)));
        if self.wanted.get_clone_untracked() == key && !failed {
            return;
        }
        self.wanted.set(key.clone());
        self.state.set(Load::Loading);
        if !cfg!(target_arch = "wasm32") {
            return;
        }
        js_sys::futures::spawn_local(async move {
            let outcome = session
                .authorized(|token| {
                    let path = path.clone();
                    let body = body.clone();
                    async move {
                        match body {
                            None => api::get::<T>(&path, &token).await,
                            Some(body) => api::send("POST", &path, &body, &token).await,
                        }
                    }
                })
                .await;
            if !self.state.is_alive() || self.wanted.get_clone_untracked() != key {
                return;
            }
            self.state.set(match outcome {
                Ok(answer) => Load::Ready(answer),
                Err(err) => Load::Failed(api::explain(&err, Action::Work)),
            });
        });
    }
}

/// What the tabs share: the session, the view (the address) and what every tab reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub(crate) session: Session,
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
        self.view.update(|v| {
            if !v.filters.contains(&filter) {
                v.filters.push(filter);
            }
        });
    }
}

/// Today's date in the browser's zone (a fixed day outside a browser).
fn today() -> String {
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
fn event_options(page: Page, chosen: &str) -> Vec<View> {
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

/// The value of the input or select an event came from.
pub(crate) fn target_value(event: &web_sys::Event) -> String {
    let Some(target) = event.target() else {
        return String::new();
    };
    if let Some(input) = target.dyn_ref::<web_sys::HtmlInputElement>() {
        input.value()
    } else if let Some(select) = target.dyn_ref::<web_sys::HtmlSelectElement>() {
        select.value()
    } else {
        String::new()
    }
}

/// The loading line, the error or what `ready` makes of the answer.
pub(crate) fn show<T: Clone + 'static>(
    load: Signal<Load<T>>,
    loading: &'static str,
    ready: impl Fn(T) -> View + Copy + 'static,
) -> View {
    view! {
        (move || match load.get_clone() {
            Load::Idle => view! {},
            Load::Loading => view! { p(class="status", role="status") { (loading) } },
            Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
            Load::Ready(answer) => ready(answer),
        })
    }
}

/// The name the app gives a project it has no name for.
const BUILTIN_NAME: &str = "Event Analytics (this app)";

#[allow(non_snake_case)]
pub(crate) fn AnalyticsPage() -> View {
    let session = use_context::<Session>();
    let view = create_signal(ViewState::decode(
        &crate::route::location_search(),
        &today(),
    ));
    let page = Page {
        session,
        view,
        projects: create_signal(Load::Loading),
        catalog: Loader::new(),
        width: create_signal(800.0),
    };
    provide_context(page);
    let section = create_node_ref();

    on_mount(move || {
        load_projects(page);
        follow_the_address(page);
        follow_the_width(page, section);
        let catalog = create_selector(move || {
            view.with(|v| {
                (!v.project.is_empty()).then(|| {
                    api::with_query(
                        "/api/query/catalog",
                        &[("project_id", &v.project), ("from", &v.from), ("to", &v.to)],
                    )
                })
            })
        });
        create_effect(move || {
            if let Some(path) = catalog.get_clone() {
                page.catalog.get(session, path);
            }
        });
    });

    let tab = create_selector(move || view.with(|v| v.tab));
    let panel = move || match tab.get() {
        Tab::Overview => view! { overview::OverviewTab {} },
        Tab::Funnel => view! { funnel::FunnelTab {} },
        Tab::Retention => view! { retention::RetentionTab {} },
        Tab::Live => view! { live::LiveTab {} },
        Tab::Explorer => view! { explorer::ExplorerTab {} },
    };

    view! {
        section(id="analytics-page", class="analytics", aria-labelledby="page-title", r#ref=section) {
            div(class="analytics-head") {
                h2(id="page-title") { "Analytics" }
                Toolbar {}
            }
            Filters {}
            Tabs {}
            div(id=move || format!("panel-{}", tab.get().as_str()), class="tab-panel", role="tabpanel",
                aria-labelledby=move || format!("tab-{}", tab.get().as_str())) {
                (panel)
            }
            Catalogue {}
        }
    }
}

/// The project list, or only the built-in project when the route is not there.
fn load_projects(page: Page) {
    js_sys::futures::spawn_local(async move {
        let answer = page
            .session
            .authorized(|token| async move {
                api::get::<ProjectSummaries>("/api/auth/projects", &token).await
            })
            .await;
        if !page.projects.is_alive() {
            return;
        }
        let builtin = || ProjectSummary {
            id: contract::BUILTIN_PROJECT_ID,
            name: BUILTIN_NAME.to_owned(),
            timezone: "UTC".to_owned(),
        };
        let mut projects = match answer {
            Ok(list) => list.projects,
            Err(err) => {
                page.projects
                    .set(Load::Failed(api::explain(&err, Action::Work)));
                return;
            }
        };
        if projects.is_empty() {
            projects.push(builtin());
        }
        // A shared link may name a project the list does not hold (yet): keep it selectable.
        let wanted = page.view.with_untracked(|v| v.project.clone());
        if let Ok(id) = wanted.parse::<uuid::Uuid>() {
            if !projects.iter().any(|p| p.id == id) {
                projects.push(ProjectSummary {
                    id,
                    name: format!("Project {}", &wanted[..8]),
                    timezone: String::new(),
                });
            }
        } else if let Some(first) = projects.first() {
            let first = first.id.to_string();
            page.view.update(|v| v.project = first);
        }
        page.projects.set(Load::Ready(projects));
    });
}

/// Keeps the address in step with the view (a new history entry per tab, the rest in place),
/// and the view with the address when the back button changes it.
fn follow_the_address(page: Page) {
    let view = page.view;
    let mut last_tab = None;
    create_effect(move || {
        let (search, tab) = view.with(|v| (v.encode(), v.tab));
        let Some(history) = web_sys::window().and_then(|w| w.history().ok()) else {
            return;
        };
        let url = format!("/analytics?{search}");
        let current = format!("/analytics{}", crate::route::location_search());
        if current == url {
            last_tab = Some(tab);
            return;
        }
        let null = wasm_bindgen::JsValue::NULL;
        let _ = if last_tab.is_some_and(|last| last != tab) {
            history.push_state_with_url(&null, "", Some(&url))
        } else {
            history.replace_state_with_url(&null, "", Some(&url))
        };
        last_tab = Some(tab);
    });
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_pop = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        if view.is_alive() && crate::route::location_path() == "/analytics" {
            let mut next = ViewState::decode(&crate::route::location_search(), &today());
            if next.project.is_empty() {
                next.project = view.with_untracked(|v| v.project.clone());
            }
            view.set(next);
        }
    });
    let _ = window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    on_cleanup(move || {
        if let Some(window) = web_sys::window() {
            let _ = window
                .remove_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
        }
    });
}

/// The charts' width follows the page's.
fn follow_the_width(page: Page, section: NodeRef) {
    let measure = move || {
        if let Ok(element) = section.get().dyn_into::<web_sys::Element>() {
            let width = f64::from(element.client_width()) - 2.0;
            if width > 0.0 && page.width.is_alive() {
                page.width.set(width);
            }
        }
    };
    measure();
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_resize = wasm_bindgen::closure::Closure::<dyn Fn()>::new(measure);
    let _ = window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
    on_cleanup(move || {
        if let Some(window) = web_sys::window() {
            let _ = window
                .remove_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
        }
    });
}

/// The project switcher and the date range.
#[component]
fn Toolbar() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let projects = move || match page.projects.get_clone() {
        Load::Ready(list) => {
            let chosen = view.with(|v| v.project.clone());
            list.into_iter()
                .map(|p| {
                    let id = p.id.to_string();
                    let selected = id == chosen;
                    view! { option(value=id, selected=selected) { (p.name) } }
                })
                .collect::<Vec<_>>()
        }
        _ => vec![view! { option(value="") { "Loading projects…" } }],
    };
    let project_error = move || match page.projects.get_clone() {
        Load::Failed(message) => Some(view! {
            p(class="form-error", role="alert") { "Could not list the projects: " (message) }
        }),
        _ => None,
    };
    let presets = move || {
        let chosen = view.with(|v| v.preset);
        Preset::ALL
            .into_iter()
            .map(|p| view! { option(value=p.as_str(), selected=p == chosen) { (p.title()) } })
            .collect::<Vec<_>>()
    };
    let set_date = move |which: &'static str| {
        move |event: web_sys::Event| {
            let value = target_value(&event);
            if url::parse_date(&value).is_none() {
                return;
            }
            view.update(|v| {
                v.preset = Preset::Custom;
                if which == "from" {
                    v.from = value;
                } else {
                    v.to = value;
                }
                if v.from > v.to {
                    std::mem::swap(&mut v.from, &mut v.to);
                }
            });
        }
    };
    view! {
        div(class="toolbar") {
            div(class="control") {
                label(r#for="project-switcher") { "Project" }
                select(id="project-switcher", on:change=move |event: web_sys::Event| {
                    let id = target_value(&event);
                    view.update(|v| {
                        if v.project != id {
                            v.project = id;
                            v.filters.clear();
                            v.at_from.clear();
                            v.at_to.clear();
                        }
                    });
                }) { (projects) }
            }
            div(class="control") {
                label(r#for="range-preset") { "Dates" }
                select(id="range-preset", on:change=move |event: web_sys::Event| {
                    let Some(preset) = Preset::parse(&target_value(&event)) else { return };
                    view.update(|v| {
                        v.preset = preset;
                        if let Some((from, to)) = preset.days(&today()) {
                            v.from = from;
                            v.to = to;
                        }
                        if preset == Preset::Today && v.interval == "day" {
                            v.interval = "hour".to_owned();
                        } else if preset != Preset::Today && v.interval == "hour" {
                            v.interval = "day".to_owned();
                        }
                    });
                }) { (presets) }
            }
            div(class="control") {
                label(r#for="range-from") { "From" }
                input(id="range-from", r#type="date", prop:value=move || view.with(|v| v.from.clone()),
                    on:change=set_date("from"))
            }
            div(class="control") {
                label(r#for="range-to") { "To" }
                input(id="range-to", r#type="date", prop:value=move || view.with(|v| v.to.clone()),
                    on:change=set_date("to"))
            }
            (project_error)
        }
    }
}

/// The filters every tab applies, as removable chips, and a form to add one.
#[component]
fn Filters() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let key = create_signal(String::new());
    let value = create_signal(String::new());
    let chips = move || {
        let (filters, at_from, at_to, interval) = view.with(|v| {
            (
                v.filters.clone(),
                v.at_from.clone(),
                v.at_to.clone(),
                v.interval.clone(),
            )
        });
        let mut chips = filters
            .into_iter()
            .enumerate()
            .map(|(i, filter)| {
                let text = url::describe(&filter);
                let label = format!("Remove the filter {text}");
                view! {
                    li(class="filter-chip", data-key=filter.key.clone()) {
                        span { (text) }
                        button(r#type="button", class="filter-chip-remove", aria-label=label,
                            on:click=move |_| view.update(|v| { if i < v.filters.len() { v.filters.remove(i); } })) { "×" }
                    }
                }
            })
            .collect::<Vec<_>>();
        if !at_from.is_empty() {
            let text = format!(
                "time: {} to {}",
                charts::bucket_label(&at_from, &interval),
                charts::bucket_label(&at_to, &interval)
            );
            chips.push(view! {
                li(class="filter-chip", data-key="time") {
                    span { (text) }
                    button(r#type="button", class="filter-chip-remove", aria-label="Remove the time filter",
                        on:click=move |_| view.update(|v| { v.at_from.clear(); v.at_to.clear(); })) { "×" }
                }
            });
        }
        chips
    };
    let add = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let raw_key = key.get_clone_untracked().trim().to_owned();
        let raw_value = value.get_clone_untracked().trim().to_owned();
        if raw_key.is_empty() || raw_value.is_empty() {
            return;
        }
        let dimension = if overview::DIMENSIONS.iter().any(|(d, _)| *d == raw_key)
            || raw_key.starts_with("property:")
            || matches!(
                raw_key.as_str(),
                "host" | "url" | "kind" | "lib" | "distinct_id"
            ) {
            raw_key
        } else {
            format!("property:{raw_key}")
        };
        page.add_filter(url::equals(&dimension, &raw_value));
        key.set(String::new());
        value.set(String::new());
    };
    view! {
        div(class="filters") {
            ul(id="active-filters", class="filter-chips", aria-label="Active filters") {
                (chips)
            }
            form(id="filter-form", class="filter-form", on:submit=add) {
                label(r#for="filter-key", class="visually-hidden") { "Filter on" }
                input(id="filter-key", placeholder="path, browser or a property", list="property-keys",
                    bind:value=key)
                span(aria-hidden="true") { "=" }
                label(r#for="filter-value", class="visually-hidden") { "Value" }
                input(id="filter-value", placeholder="value", bind:value=value)
                button(id="filter-add", r#type="submit") { "Add filter" }
            }
        }
    }
}

/// The tab list: arrow keys, Home and End move between tabs.
#[component]
fn Tabs() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let choose = move |tab: Tab, focus: bool| {
        view.update(|v| v.tab = tab);
        if focus {
            crate::a11y::focus_by_id(&format!("tab-{}", tab.as_str()));
        }
    };
    let buttons = Tab::ALL
        .into_iter()
        .enumerate()
        .map(|(i, tab)| {
            let selected = create_selector(move || view.with(|v| v.tab == tab));
            let on_key = move |event: web_sys::KeyboardEvent| {
                let Some(next) = crate::a11y::tab_key(i, Tab::ALL.len(), &event.key()) else {
                    return;
                };
                event.prevent_default();
                choose(Tab::ALL[next], true);
            };
            view! {
                button(id=format!("tab-{}", tab.as_str()), r#type="button", role="tab",
                    class="tab", aria-selected=move || selected.get().to_string(),
                    aria-controls=format!("panel-{}", tab.as_str()),
                    tabindex=move || if selected.get() { "0" } else { "-1" },
                    on:click=move |_| choose(tab, false), on:keydown=on_key) { (tab.title()) }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(class="tabs", role="tablist", aria-label="Analytics views") { (buttons) }
    }
}

/// The event names and property keys of the range, offered by the inputs that name them.
#[component]
fn Catalogue() -> View {
    let page = use_context::<Page>();
    let lists = move || match page.catalog.state.get_clone() {
        Load::Ready(catalog) => {
            let events = catalog
                .events
                .iter()
                .map(|e| {
                    let name = e.event.clone();
                    view! { option(value=name) }
                })
                .collect::<Vec<_>>();
            let mut keys = overview::DIMENSIONS
                .iter()
                .map(|(d, _)| view! { option(value=*d) })
                .collect::<Vec<_>>();
            keys.extend(catalog.properties.iter().map(|p| {
                let key = format!("property:{}", p.key);
                view! { option(value=key) }
            }));
            view! {
                datalist(id="event-names") { (events) }
                datalist(id="property-keys") { (keys) }
            }
        }
        _ => view! {
            datalist(id="event-names") {}
            datalist(id="property-keys") {}
        },
    };
    view! { (lists) }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use contract::auth::{Role, UserView};

    use crate::route::Route;
    use crate::session::{Auth, SignedIn};

    fn render() -> String {
        sycamore::web::render_to_string(|| {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "ada@example.com",
                "name": "Ada",
                "role": Role::Analyst,
            });
            let user: UserView = serde_json::from_value(user).expect("a user view");
            let session =
                crate::session::Session::new(Auth::SignedIn(SignedIn::new(user, "t".to_owned())));
            crate::shell(Route::Analytics, session)
        })
    }

    #[test]
    fn the_page_has_its_controls_tabs_and_the_overview() {
        let html = render();
        for id in [
            "analytics-page",
            "project-switcher",
            "range-preset",
            "range-from",
            "range-to",
            "active-filters",
            "tab-overview",
            "tab-funnel",
            "tab-retention",
            "tab-live",
            "tab-explorer",
            "chart-tooltip",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}: {html}");
        }
        assert!(html.contains("role=\"tablist\""), "{html}");
        assert!(html.contains("aria-selected=\"true\""), "{html}");
        assert!(html.contains("for=\"range-preset\""), "{html}");
    }
}
