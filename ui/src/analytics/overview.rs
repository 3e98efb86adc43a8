//! The overview tab: the headline figures against the previous period, the trends chart and
//! the top values, each of which narrows the page to itself when clicked.

use std::rc::Rc;

use contract::query::{OverviewResponse, TopResponse, TrendsResponse};
use sycamore::prelude::*;

use super::charts::{self, Pick, Tip};
use super::{Load, Loader, Page, Tab, target_value, url};

/// The dimensions of the top tables and the breakdown, with their titles.
pub(crate) const DIMENSIONS: [(&str, &str); 6] = [
    ("path", "Pages"),
    ("referrer", "Referrers"),
    ("browser", "Browsers"),
    ("os", "Operating systems"),
    ("device", "Devices"),
    ("event", "Events"),
];

/// The figures of the overview, in order, with their titles.
const FIGURES: [(&str, &str); 5] = [
    ("events", "Events"),
    ("users", "Users"),
    ("sessions", "Sessions"),
    ("pageviews", "Pageviews"),
    ("bounce_rate", "Bounce rate"),
];

#[component]
pub(crate) fn OverviewTab() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let overview = Loader::<OverviewResponse>::new();
    let trends = Loader::<TrendsResponse>::new();
    let overview_path = create_selector(move || {
        view.with(|v| (!v.project.is_empty()).then(|| Page::path(v, "/api/query/overview", &[])))
    });
    let trends_path = create_selector(move || {
        view.with(|v| {
            (!v.project.is_empty()).then(|| {
                Page::path(
                    v,
                    "/api/query/trends",
                    &[
                        ("interval", &v.interval),
                        ("measure", &v.measure),
                        ("breakdown", &v.breakdown),
                        ("event", &v.event),
                        ("compare", if v.compare { "true" } else { "" }),
                    ],
                )
            })
        })
    });
    create_effect(move || {
        if let Some(path) = overview_path.get_clone() {
            overview.get(page.session, path);
        }
    });
    create_effect(move || {
        if let Some(path) = trends_path.get_clone() {
            trends.get(page.session, path);
        }
    });
    let tables = DIMENSIONS
        .into_iter()
        .map(|(dimension, title)| view! { TopTable(dimension=dimension, title=title) })
        .collect::<Vec<_>>();
    view! {
        div(class="overview") {
            (super::show(overview.state, "Loading the figures…", figures))
            TrendsCard(trends=trends)
            div(class="top-tables") { (tables) }
        }
    }
}

fn figures(answer: OverviewResponse) -> View {
    let cards = FIGURES
        .into_iter()
        .map(|(name, title)| {
            let figure = answer.figures.get(name).cloned();
            let (value, change, direction, previous) = match figure {
                Some(f) if name == "bounce_rate" => {
                    let (change, direction) = charts::format_change(f.change);
                    (
                        charts::format_percent(f.value),
                        change,
                        direction,
                        charts::format_percent(f.previous),
                    )
                }
                Some(f) => {
                    let (change, direction) = charts::format_change(f.change);
                    (
                        charts::format_number(f.value),
                        change,
                        direction,
                        charts::format_number(f.previous),
                    )
                }
                None => ("—".to_owned(), String::new(), "flat", "—".to_owned()),
            };
            let class = format!("figure-change {direction}");
            let about = format!("previous period: {previous}");
            let hidden = about.clone();
            view! {
                li(class="card ov-figure", data-figure=name) {
                    h3(class="figure-name") { (title) }
                    p(class="figure-value") { (value) }
                    p(class=class, title=about) {
                        (change) " " span(class="visually-hidden") { (hidden) }
                    }
                }
            }
        })
        .collect::<Vec<_>>();
    view! { ul(id="figures", class="ov-figures") { (cards) } }
}

#[component(inline_props)]
fn TrendsCard(trends: Loader<TrendsResponse>) -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let tip = create_signal(None::<Tip>);
    let pick: Rc<dyn Fn(Pick)> = Rc::new(move |pick: Pick| {
        tip.set(None);
        view.update(|v| {
            v.tab = Tab::Explorer;
            v.at_from = pick.from.clone();
            v.at_to = pick.to.clone();
            v.explore_event = v.event.clone();
            if !v.breakdown.is_empty() && pick.breakdown_value != "$other" {
                let filter = url::equals(&v.breakdown, &pick.breakdown_value);
                if !v.filters.contains(&filter) {
                    v.filters.push(filter);
                }
            }
        });
    });
    let breakdowns = move || {
        let chosen = view.with(|v| v.breakdown.clone());
        let mut options = vec![("".to_owned(), "No breakdown".to_owned())];
        options.extend(
            DIMENSIONS
                .iter()
                .map(|(d, t)| ((*d).to_owned(), (*t).to_owned())),
        );
        if let Load::Ready(catalog) = page.catalog.state.get_clone() {
            options.extend(
                catalog
                    .properties
                    .iter()
                    .take(50)
                    .map(|p| (format!("property:{}", p.key), format!("Property {}", p.key))),
            );
        }
        if !options.iter().any(|(value, _)| *value == chosen) {
            options.push((chosen.clone(), chosen.clone()));
        }
        options
            .into_iter()
            .map(|(value, title)| {
                let selected = value == chosen;
                view! { option(value=value, selected=selected) { (title) } }
            })
            .collect::<Vec<_>>()
    };
    let events = move || super::event_options(page, &view.with(|v| v.event.clone()));
    let option = move |value: &'static str,
                       title: &'static str,
                       of: fn(&url::ViewState) -> String| {
        view! { option(value=value, selected=move || view.with(|v| of(v) == value)) { (title) } }
    };
    let chart = move || {
        let width = page.width.get() - 40.0;
        let line = view.with(|v| v.line);
        let pick = Rc::clone(&pick);
        let answer = trends.state.get_clone();
        match answer {
            Load::Idle => view! {},
            Load::Loading => view! { p(class="status", role="status") { "Loading the trends…" } },
            Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
            Load::Ready(answer) => {
                let empty = answer
                    .series
                    .iter()
                    .all(|s| s.points.iter().all(|p| charts::amount(p.value) == 0.0));
                let legend = answer
                    .series
                    .iter()
                    .enumerate()
                    .map(|(j, s)| {
                        let swatch = format!("legend-swatch series-{}", j % charts::PALETTE);
                        let total = s
                            .total
                            .map(charts::amount)
                            .map(charts::format_number)
                            .unwrap_or_default();
                        let label = s.label.clone();
                        let key = charts::series_key(s);
                        view! {
                            li(data-series=key) {
                                span(class=swatch, aria-hidden="true") {}
                                (label) " " span(class="legend-total") { (total) }
                            }
                        }
                    })
                    .collect::<Vec<_>>();
                let compared = answer.previous_series.is_some().then(|| view! {
                    li(class="legend-previous") { span(class="legend-swatch legend-previous-swatch", aria-hidden="true") {} "previous period" }
                });
                let drawn = charts::trend_chart(&answer, line, width, tip, pick);
                let note = empty.then(|| {
                    view! {
                        p(class="status empty", role="status") { "No events in this range." }
                    }
                });
                view! {
                    (note)
                    (drawn)
                    ul(class="chart-legend", aria-label="Legend") { (legend) (compared) }
                }
            }
        }
    };
    let tooltip = move || tip.get_clone();
    view! {
        div(class="card trends") {
            div(class="trends-head") {
                h3 { "Trends" }
                div(class="chart-type", role="group", aria-label="Chart type") {
                    button(id="chart-bars", r#type="button", aria-pressed=move || (!view.with(|v| v.line)).to_string(),
                        on:click=move |_| view.update(|v| v.line = false)) { "Bars" }
                    button(id="chart-line", r#type="button", aria-pressed=move || view.with(|v| v.line).to_string(),
                        on:click=move |_| view.update(|v| v.line = true)) { "Line" }
                }
            }
            div(class="trend-controls") {
                div(class="control") {
                    label(r#for="trend-event") { "Event" }
                    select(id="trend-event", on:change=move |e: web_sys::Event| {
                        let value = target_value(&e);
                        view.update(|v| v.event = value);
                    }) { (events) }
                }
                div(class="control") {
                    label(r#for="trend-measure") { "Measure" }
                    select(id="trend-measure", on:change=move |e: web_sys::Event| {
                        let value = target_value(&e);
                        view.update(|v| v.measure = value);
                    }) {
                        (option("count", "Events", |v| v.measure.clone()))
                        (option("uniques", "Users", |v| v.measure.clone()))
                    }
                }
                div(class="control") {
                    label(r#for="trend-interval") { "Interval" }
                    select(id="trend-interval", on:change=move |e: web_sys::Event| {
                        let value = target_value(&e);
                        view.update(|v| v.interval = value);
                    }) {
                        (option("hour", "Hour", |v| v.interval.clone()))
                        (option("day", "Day", |v| v.interval.clone()))
                        (option("week", "Week", |v| v.interval.clone()))
                        (option("month", "Month", |v| v.interval.clone()))
                    }
                }
                div(class="control") {
                    label(r#for="trend-breakdown") { "Breakdown" }
                    select(id="trend-breakdown", on:change=move |e: web_sys::Event| {
                        let value = target_value(&e);
                        view.update(|v| v.breakdown = value);
                    }) { (breakdowns) }
                }
                div(class="control checkbox") {
                    input(id="trend-compare", r#type="checkbox", prop:checked=move || view.with(|v| v.compare),
                        on:change=move |_| view.update(|v| v.compare = !v.compare))
                    label(r#for="trend-compare") { "Compare to previous period" }
                }
            }
            div(class="chart-wrap") {
                (chart)
                div(id="chart-tooltip", class="chart-tooltip", role="status",
                    hidden=move || tip.with(Option::is_none),
                    prop:style=move || tooltip().map(|t| format!("left: {:.0}px; top: {:.0}px", t.x, t.y)).unwrap_or_default()) {
                    (move || tooltip().map(|t| {
                        let lines = t.lines.into_iter().map(|l| view! { span(class="tip-line") { (l) } }).collect::<Vec<_>>();
                        view! { strong { (t.title) } (lines) }
                    }))
                }
            }
            p(class="hint") { "Click a bar or point (or press Enter on it) to see its events." }
        }
    }
}

#[component(inline_props)]
fn TopTable(dimension: &'static str, title: &'static str) -> View {
    let page = use_context::<Page>();
    let top = Loader::<TopResponse>::new();
    let path = create_selector(move || {
        page.view.with(|v| {
            (!v.project.is_empty()).then(|| {
                Page::path(
                    v,
                    "/api/query/top",
                    &[("dimension", dimension), ("limit", "10")],
                )
            })
        })
    });
    create_effect(move || {
        if let Some(path) = path.get_clone() {
            top.get(page.session, path);
        }
    });
    let table_id = format!("top-{dimension}");
    let heading_id = format!("top-{dimension}-title");
    let rows = move |answer: TopResponse| {
        if answer.values.is_empty() {
            return view! { p(class="status empty", role="status") { "Nothing in this range." } };
        }
        let most = answer.values.first().map_or(1, |v| v.count.max(1));
        let rows = answer
            .values
            .into_iter()
            .map(|value| {
                let shown = if value.value.is_empty() { "(none)".to_owned() } else { value.value.clone() };
                let share = format!("width: {:.1}%", value.count as f64 * 100.0 / most as f64);
                let label = format!("Filter on {dimension} = {shown}");
                let chosen = value.value.clone();
                view! {
                    tr(data-value=value.value.clone()) {
                        td(class="top-value") {
                            span(class="top-bar", prop:style=share, aria-hidden="true") {}
                            button(r#type="button", class="value-button", aria-label=label,
                                on:click=move |_| page.add_filter(url::equals(dimension, &chosen))) { (shown) }
                        }
                        td(class="numeric") { (charts::format_number(value.count as f64)) }
                        td(class="numeric") { (charts::format_number(value.users as f64)) }
                    }
                }
            })
            .collect::<Vec<_>>();
        let (table_id, heading_id) = (table_id.clone(), heading_id.clone());
        view! {
            table(id=table_id, class="top-table", aria-labelledby=heading_id) {
                thead { tr { th(scope="col") { (title) } th(scope="col", class="numeric") { "Events" } th(scope="col", class="numeric") { "Users" } } }
                tbody { (rows) }
            }
        }
    };
    let heading = format!("top-{dimension}-title");
    view! {
        div(class="card top") {
            h3(id=heading) { (title) }
            (move || match top.state.get_clone() {
                Load::Idle => view! {},
                Load::Loading => view! { p(class="status", role="status") { "Loading…" } },
                Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
                Load::Ready(answer) => rows(answer),
            })
        }
    }
}
