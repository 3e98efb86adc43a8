//! The overview tab: the headline figures against the previous period, the trends card and
//! the top values, each of which narrows the page to itself when clicked.

use contract::query::{OverviewResponse, TopResponse, TrendsResponse};
use sycamore::prelude::*;

use super::charts;
use super::load::{Load, Loader, show};
use super::page::{DIMENSIONS, Page};
use super::trends::TrendsCard;
use super::url;

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
            (show(overview.state, "Loading the figures…", figures))
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
