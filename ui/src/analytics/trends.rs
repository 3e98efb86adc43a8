//! The trends card of the overview tab: the chart's controls (event, measure, interval,
//! breakdown, comparison, bars or line), the chart with its legend and tooltip, and the
//! project's notes for the range, marked on the chart and listed under it.

use std::rc::Rc;

use contract::auth::{AnnotationView, InsightKind};
use contract::query::{TrendSeries, TrendsResponse};
use sycamore::prelude::*;

use super::annotations::{Notes, NotesSection};
use super::charts;
use super::load::{Load, Loader};
use super::page::{Page, all_dimensions, event_options, target_value};
use super::save::save_button;
use super::trend_chart::{Look, Pick, Tip, series_key, trend_chart};
use super::url::{self, Tab, ViewState};

#[component(inline_props)]
pub(crate) fn TrendsCard(trends: Loader<TrendsResponse>) -> View {
    let tip = create_signal(None::<Tip>);
    let page = use_context::<Page>();
    let session = page.session;
    let notes = Notes::follow(page, trends);
    view! {
        div(class="card trends") {
            div(class="trends-head") {
                h3 { "Trends" }
                ChartType {}
                div(class="card-actions") {
                    (trends.csv_button(session, "trends"))
                    (save_button(InsightKind::Trends, trends, || "the trends chart".to_owned()))
                }
            }
            TrendControls {}
            div(class="chart-wrap") {
                TrendsChart(trends=trends, notes=notes, tip=tip)
                (tooltip(tip, Some("chart-tooltip")))
            }
            p(class="hint") { "Click a bar or point (or press Enter on it) to see its events." }
            NotesSection(notes=notes)
        }
    }
}

/// The bars or line switch.
#[component]
fn ChartType() -> View {
    let view = use_context::<Page>().view;
    view! {
        div(class="chart-type", role="group", aria-label="Chart type") {
            button(id="chart-bars", r#type="button", aria-pressed=move || (!view.with(|v| v.line)).to_string(),
                on:click=move |_| view.update(|v| v.line = false)) { "Bars" }
            button(id="chart-line", r#type="button", aria-pressed=move || view.with(|v| v.line).to_string(),
                on:click=move |_| view.update(|v| v.line = true)) { "Line" }
        }
    }
}

/// An option of a select showing `of` the view, selected when that is `value`.
fn option(
    view: Signal<ViewState>,
    value: &'static str,
    title: &'static str,
    of: fn(&ViewState) -> String,
) -> View {
    view! { option(value=value, selected=move || view.with(|v| of(v) == value)) { (title) } }
}

/// What the chart counts: event, measure, interval, breakdown and the comparison.
#[component]
fn TrendControls() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let events = move || event_options(page, &view.with(|v| v.event.clone()));
    let breakdowns = move || breakdown_options(page);
    view! {
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
                    (option(view, "count", "Events", |v| v.measure.clone()))
                    (option(view, "uniques", "Users", |v| v.measure.clone()))
                }
            }
            div(class="control") {
                label(r#for="trend-interval") { "Interval" }
                select(id="trend-interval", on:change=move |e: web_sys::Event| {
                    let value = target_value(&e);
                    view.update(|v| v.interval = value);
                }) {
                    (option(view, "hour", "Hour", |v| v.interval.clone()))
                    (option(view, "day", "Day", |v| v.interval.clone()))
                    (option(view, "week", "Week", |v| v.interval.clone()))
                    (option(view, "month", "Month", |v| v.interval.clone()))
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
    }
}

/// The breakdowns offered: none, the dimensions, the catalogue's first properties, and the
/// chosen one even when neither holds it.
fn breakdown_options(page: Page) -> Vec<View> {
    let chosen = page.view.with(|v| v.breakdown.clone());
    let mut options = vec![("".to_owned(), "No breakdown".to_owned())];
    options.extend(all_dimensions().map(|(d, t)| ((*d).to_owned(), (*t).to_owned())));
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
        .collect()
}

/// Opens the explorer on a picked bucket, narrowed to its breakdown value.
fn open_bucket(view: Signal<ViewState>, tip: Signal<Option<Tip>>) -> Rc<dyn Fn(Pick)> {
    Rc::new(move |pick: Pick| {
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
    })
}

/// The chart as the answer allows: loading, the error, or the chart (with the notes' markers)
/// and its legend.
#[component(inline_props)]
fn TrendsChart(trends: Loader<TrendsResponse>, notes: Notes, tip: Signal<Option<Tip>>) -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let pick = open_bucket(view, tip);
    let chart = move || {
        let look = Look {
            line: view.with(|v| v.line),
            width: page.width.get() - 40.0,
            tip,
            pick: Some(Rc::clone(&pick)),
        };
        let answer = trends.state.get_clone();
        let marked = notes.list.state.with(|state| match state {
            Load::Ready(list) => list.annotations.clone(),
            _ => Vec::new(),
        });
        match answer {
            Load::Idle => view! {},
            Load::Loading => view! { p(class="status", role="status") { "Loading the trends…" } },
            Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
            Load::Ready(answer) => drawn(&answer, &marked, look),
        }
    };
    view! { (chart) }
}

/// A trends answer drawn: "No events in this range." when it counted nothing, the chart as
/// `look` says (with markers for `notes`) and its legend. The Analytics page's trends card and
/// a dashboard's trends tile both draw with it.
pub(crate) fn drawn(answer: &TrendsResponse, notes: &[AnnotationView], look: Look) -> View {
    let empty = answer
        .series
        .iter()
        .all(|s| s.points.iter().all(|p| charts::amount(p.value) == 0.0));
    let note = empty.then(|| {
        view! {
            p(class="status empty", role="status") { "No events in this range." }
        }
    });
    let drawn = trend_chart(answer, notes, look);
    let legend = legend(answer);
    view! {
        (note)
        (drawn)
        (legend)
    }
}

/// The legend: a swatch, label and total per series, and the dashed previous period.
fn legend(answer: &TrendsResponse) -> View {
    let entries = answer
        .series
        .iter()
        .enumerate()
        .map(|(j, s)| legend_entry(j, s))
        .collect::<Vec<_>>();
    let compared = answer.previous_series.is_some().then(|| view! {
        li(class="legend-previous") { span(class="legend-swatch legend-previous-swatch", aria-hidden="true") {} "previous period" }
    });
    view! {
        ul(class="chart-legend", aria-label="Legend") { (entries) (compared) }
    }
}

fn legend_entry(j: usize, series: &TrendSeries) -> View {
    let swatch = format!("legend-swatch series-{}", j % charts::PALETTE);
    let total = series
        .total
        .map(charts::amount)
        .map(charts::format_number)
        .unwrap_or_default();
    let label = series.label.clone();
    let key = series_key(series);
    view! {
        li(data-series=key) {
            span(class=swatch, aria-hidden="true") {}
            (label) " " span(class="legend-total") { (total) }
        }
    }
}

/// The tooltip of the bar or point under the pointer or the focus: the Analytics page's one is
/// `#chart-tooltip`, a dashboard tile's has no id.
pub(crate) fn tooltip(tip: Signal<Option<Tip>>, id: Option<&'static str>) -> View {
    let tooltip = move || tip.get_clone();
    view! {
        div(id=id, class="chart-tooltip", role="status",
            hidden=move || tip.with(Option::is_none),
            prop:style=move || tooltip().map(|t| format!("left: {:.0}px; top: {:.0}px", t.x, t.y)).unwrap_or_default()) {
            (move || tooltip().map(|t| {
                let lines = t.lines.into_iter().map(|l| view! { span(class="tip-line") { (l) } }).collect::<Vec<_>>();
                view! { strong { (t.title) } (lines) }
            }))
        }
    }
}
