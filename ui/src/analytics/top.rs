//! The top values of a dimension as a table whose rows narrow the page to their value: alone on
//! a card, or with sibling dimensions behind tabs (countries, regions and cities; the UTM
//! parameters).

use contract::auth::InsightKind;
use contract::query::TopResponse;
use sycamore::prelude::*;

use super::charts;
use super::load::{Load, Loader};
use super::page::Page;
use super::places::countries;
use super::save::save_button;
use super::url;

/// Rows of a top table.
const ROWS: &str = "10";

/// How a value of `dimension` reads in its table.
pub(crate) fn shown(dimension: &str, value: &str) -> String {
    if dimension == "country" {
        countries::label(value)
    } else if value.is_empty() {
        "(none)".to_owned()
    } else {
        value.to_owned()
    }
}

/// The top values of the dimension `dimension` gives (tracked), loaded for the view.
fn top_of(page: Page, dimension: impl Fn() -> &'static str + 'static) -> Loader<TopResponse> {
    let top = Loader::<TopResponse>::new();
    let path = create_selector(move || {
        let dimension = dimension();
        page.view.with(|v| {
            (!v.project.is_empty()).then(|| {
                Page::path(
                    v,
                    "/api/query/top",
                    &[("dimension", dimension), ("limit", ROWS)],
                )
            })
        })
    });
    create_effect(move || {
        if let Some(path) = path.get_clone() {
            top.get(page.session, path);
        }
    });
    top
}

/// A card with the top values of one dimension.
#[component(inline_props)]
pub(crate) fn TopTable(dimension: &'static str, title: &'static str) -> View {
    let page = use_context::<Page>();
    let top = top_of(page, move || dimension);
    let heading = format!("top-{dimension}-title");
    let labelled_by = heading.clone();
    view! {
        div(class="card top") {
            h3(id=heading) { (title) }
            (top.csv_button(page.session, title))
            (save_button(InsightKind::Top, top, move || title.to_owned()))
            (move || rows(page, top, dimension, title, &labelled_by))
        }
    }
}

/// A card with the top values of one of `dimensions` (value, title) at a time, chosen by tabs;
/// `name` keeps the ids of its tabs apart from another card's.
#[component(inline_props)]
pub(crate) fn TopTabs(
    name: &'static str,
    title: &'static str,
    dimensions: &'static [(&'static str, &'static str)],
) -> View {
    let page = use_context::<Page>();
    let chosen = create_signal(0_usize);
    let dimension = move || dimensions.get(chosen.get()).map_or("event", |(d, _)| *d);
    let top = top_of(page, dimension);
    let heading = format!("{name}-title");
    let labelled_by = heading.clone();
    let choose = move |i: usize, focus: bool| {
        chosen.set(i);
        if focus {
            if let Some((d, _)) = dimensions.get(i) {
                crate::a11y::focus_by_id(&format!("{name}-tab-{d}"));
            }
        }
    };
    let tabs = dimensions
        .iter()
        .enumerate()
        .map(|(i, &(d, t))| {
            let selected = create_selector(move || chosen.get() == i);
            let on_key = move |event: web_sys::KeyboardEvent| {
                if let Some(next) = crate::a11y::tab_key(i, dimensions.len(), &event.key()) {
                    event.prevent_default();
                    choose(next, true);
                }
            };
            view! {
                button(id=format!("{name}-tab-{d}"), r#type="button", role="tab", class="tab small",
                    aria-selected=move || selected.get().to_string(),
                    tabindex=move || if selected.get() { "0" } else { "-1" },
                    on:click=move |_| choose(i, false), on:keydown=on_key) { (t) }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(id=name, class="card top") {
            div(class="top-head") {
                h3(id=heading) { (title) }
                div(class="tabs small-tabs", role="tablist", aria-label=title) { (tabs) }
                div(class="card-actions") {
                    (top.csv_button(page.session, title))
                    (save_button(InsightKind::Top, top, move || chosen_title(dimensions, title, chosen.get_untracked()).to_owned()))
                }
            }
            (move || {
                let t = chosen_title(dimensions, title, chosen.get());
                rows(page, top, dimension(), t, &labelled_by)
            })
        }
    }
}

/// The title of the dimension `chosen` of `dimensions`, or the card's `title`.
fn chosen_title(
    dimensions: &'static [(&'static str, &'static str)],
    title: &'static str,
    chosen: usize,
) -> &'static str {
    dimensions.get(chosen).map_or(title, |(_, t)| *t)
}

/// The table of `top` (tracked), or its loading line or error.
fn rows(
    page: Page,
    top: Loader<TopResponse>,
    dimension: &'static str,
    title: &'static str,
    labelled_by: &str,
) -> View {
    let answer = match top.state.get_clone() {
        Load::Idle => return view! {},
        Load::Loading => return view! { p(class="status", role="status") { "Loading…" } },
        Load::Failed(message) => {
            return view! { p(class="form-error", role="alert") { (message) } };
        }
        Load::Ready(answer) => answer,
    };
    if answer.dimension != dimension {
        // The answer of the tab chosen before; this one's is on its way.
        return view! { p(class="status", role="status") { "Loading…" } };
    }
    table(answer, title, labelled_by.to_owned(), Some(page))
}

/// A top answer as a table headed `title` and labelled by the element `labelled_by`: on the
/// Analytics page (`page`) it is `#top-<dimension>` and each value a button narrowing the page
/// to itself; on a dashboard's tile the values are text. "Nothing in this range." when empty.
pub(crate) fn table(
    answer: TopResponse,
    title: &str,
    labelled_by: String,
    page: Option<Page>,
) -> View {
    if answer.values.is_empty() {
        return view! { p(class="status empty", role="status") { "Nothing in this range." } };
    }
    let dimension = answer.dimension.clone();
    let most = answer.values.first().map_or(1, |v| v.count.max(1));
    // Pages whose engagement was told also say how long they were read and how far scrolled.
    let engaged = answer.values.iter().any(|v| v.time_on_page_ms.is_some());
    let body = answer
        .values
        .into_iter()
        .map(|value| {
            let text = shown(&dimension, &value.value);
            let share = format!("width: {:.1}%", value.count as f64 * 100.0 / most as f64);
            let shown = match page {
                Some(page) => {
                    let label = format!("Filter on {dimension} = {text}");
                    let filter = url::equals(&dimension, &value.value);
                    view! {
                        button(r#type="button", class="value-button", aria-label=label,
                            on:click=move |_| page.add_filter(filter.clone())) { (text) }
                    }
                }
                None => view! { span(class="value-text") { (text) } },
            };
            view! {
                tr(data-value=value.value.clone()) {
                    td(class="top-value") {
                        span(class="top-bar", prop:style=share, aria-hidden="true") {}
                        (shown)
                    }
                    td(class="numeric") { (charts::format_number(value.count as f64)) }
                    td(class="numeric") { (charts::format_number(value.users as f64)) }
                    (engaged.then(|| engagement_cells(value.time_on_page_ms, value.scroll_depth)))
                }
            }
        })
        .collect::<Vec<_>>();
    let table_id = page.map(|_| format!("top-{dimension}"));
    // The session tables count visits, not events.
    let counted = if dimension.ends_with("_page") {
        "Visits"
    } else {
        "Events"
    };
    let title = title.to_owned();
    view! {
        table(id=table_id, class="top-table", aria-labelledby=labelled_by) {
            thead { tr {
                th(scope="col") { (title) }
                th(scope="col", class="numeric") { (counted) }
                th(scope="col", class="numeric") { "Users" }
                (engaged.then(|| view! {
                    th(scope="col", class="numeric") { "Time on page" }
                    th(scope="col", class="numeric") { "Scroll depth" }
                }))
            } }
            tbody { (body) }
        }
    }
}

/// A page's average time on page and scroll depth, or a dash where none was told.
fn engagement_cells(time_on_page_ms: Option<u64>, scroll_depth: Option<u8>) -> View {
    let time = time_on_page_ms.map_or_else(
        || "—".to_owned(),
        |ms| crate::format::duration_label(ms as f64 / 1000.0),
    );
    let depth = scroll_depth.map_or_else(|| "—".to_owned(), |percent| format!("{percent}%"));
    view! {
        td(class="numeric time-on-page") { (time) }
        td(class="numeric scroll-depth") { (depth) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_read_by_name_and_empty_values_say_so() {
        assert_eq!(shown("country", "DE"), "Germany (DE)");
        assert_eq!(shown("city", "Berlin"), "Berlin");
        assert_eq!(shown("utm_source", ""), "(none)");
    }
}
