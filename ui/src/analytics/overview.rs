//! The overview tab: the headline figures against the previous period, the trends card and
//! the top values, each of which narrows the page to itself when clicked.

use contract::query::{OverviewResponse, TrendsResponse};
use sycamore::prelude::*;

use super::charts;
use super::load::{Loader, show};
use super::page::{DIMENSIONS, Page};
use super::top::TopTable;
use super::trends::TrendsCard;

/// The figures of the overview, in order, with their titles.
const FIGURES: [(&str, &str); 7] = [
    ("events", "Events"),
    ("users", "Users"),
    ("sessions", "Visits"),
    ("pageviews", "Pageviews"),
    ("pages_per_session", "Pages per visit"),
    ("avg_session_seconds", "Visit duration"),
    ("bounce_rate", "Bounce rate"),
];

/// The session tables beside the top values: where visits began and ended.
pub(crate) const SESSION_PAGES: [(&str, &str); 2] =
    [("entry_page", "Entry pages"), ("exit_page", "Exit pages")];

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
        .chain(SESSION_PAGES)
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
                Some(f) => {
                    let (change, direction) = charts::format_change(f.change);
                    (
                        figure_text(name, f.value),
                        change,
                        direction,
                        figure_text(name, f.previous),
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

/// How the figure `name` reads: a rate as a percentage, a duration in minutes and seconds,
/// pages per visit to one decimal, a count as a number.
fn figure_text(name: &str, value: f64) -> String {
    match name {
        "bounce_rate" => charts::format_percent(value),
        "avg_session_seconds" => crate::format::duration_label(value),
        "pages_per_session" => {
            let text = format!("{value:.1}");
            text.trim_end_matches(".0").to_owned()
        }
        _ => charts::format_number(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_their_kind() {
        assert_eq!(figure_text("bounce_rate", 0.25), "25%");
        assert_eq!(figure_text("avg_session_seconds", 185.4), "3m 05s");
        assert_eq!(figure_text("avg_session_seconds", 42.0), "42s");
        assert_eq!(figure_text("avg_session_seconds", 3_725.0), "1h 02m");
        assert_eq!(figure_text("pages_per_session", 2.34), "2.3");
        assert_eq!(figure_text("pages_per_session", 3.0), "3");
        assert_eq!(figure_text("events", 12_345.0), "12,345");
    }
}
