//! The retention tab: users by the period of their first start event, and the share of them
//! who did the return event in each period after, as a heat map.

use contract::auth::InsightKind;
use contract::query::{MAX_PERIODS, RetentionRequest, RetentionResponse};
use sycamore::prelude::*;

use super::charts;
use super::load::{Load, Loader};
use super::page::{Page, target_value};
use super::save::save_button;
use super::url::ViewState;

/// The request for `v`; `None` until both events are named.
pub(crate) fn request(v: &ViewState) -> Option<RetentionRequest> {
    let start = v.start_event.trim();
    let back = v.return_event.trim();
    (!start.is_empty() && !back.is_empty()).then(|| RetentionRequest {
        start_event: start.to_owned(),
        return_event: back.to_owned(),
        period: v.period.clone(),
        periods: v.periods,
    })
}

#[component]
pub(crate) fn RetentionTab() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let retention = Loader::<RetentionResponse>::new();
    let runs = create_signal(u32::from(view.with_untracked(|v| request(v).is_some())));
    let scope = create_selector(move || view.with(|v| Page::path(v, "/api/query/retention", &[])));
    create_effect(move || {
        let path = scope.get_clone();
        if runs.get() == 0 || view.with_untracked(|v| v.project.is_empty()) {
            return;
        }
        let Some(request) = view.with_untracked(request) else {
            return;
        };
        match serde_json::to_value(&request) {
            Ok(body) => retention.post(page.session, path, body),
            Err(err) => retention.state.set(Load::Failed(err.to_string())),
        }
    });
    let run = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        if view.with_untracked(request).is_none() {
            retention.state.set(Load::Failed(
                "Name the start and the return event".to_owned(),
            ));
            return;
        }
        retention.reset();
        runs.update(|n| *n += 1);
    };
    view! {
        div(class="retention-tab") {
            form(id="retention-form", class="card builder", on:submit=run) {
                RetentionControls {}
                button(id="retention-run", r#type="submit", class="primary") { "Show retention" }
            }
            div(class="card") {
                (retention.csv_button(page.session, "retention"))
                (save_button(InsightKind::Retention, retention, || "the retention grid".to_owned()))
                (move || match retention.state.get_clone() {
                    Load::Idle => view! { p(class="status", role="status") { "Name a start and a return event." } },
                    Load::Loading => view! { p(class="status", role="status") { "Counting the cohorts…" } },
                    Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
                    Load::Ready(answer) => grid(answer, Some("retention-grid")),
                })
            }
        }
    }
}

/// The start and return events, the period and how many periods.
#[component]
fn RetentionControls() -> View {
    let view = use_context::<Page>().view;
    let text_input =
        move |id: &'static str, get: fn(&ViewState) -> String, set: fn(&mut ViewState, String)| {
            view! {
                input(id=id, list="event-names", autocomplete="off", placeholder="event name",
                    prop:value=move || view.with(get),
                    on:input=move |e: web_sys::Event| {
                        let value = target_value(&e);
                        view.update(|v| set(v, value));
                    })
            }
        };
    view! {
        div(class="trend-controls") {
            div(class="control") {
                label(r#for="retention-start") { "Start event" }
                (text_input("retention-start", |v| v.start_event.clone(), |v, s| v.start_event = s))
            }
            div(class="control") {
                label(r#for="retention-return") { "Return event" }
                (text_input("retention-return", |v| v.return_event.clone(), |v, s| v.return_event = s))
            }
            div(class="control") {
                label(r#for="retention-period") { "Period" }
                select(id="retention-period", on:change=move |e: web_sys::Event| {
                    let value = target_value(&e);
                    view.update(|v| v.period = value);
                }) {
                    option(value="day", selected=move || view.with(|v| v.period == "day")) { "Day" }
                    option(value="week", selected=move || view.with(|v| v.period == "week")) { "Week" }
                }
            }
            div(class="control") {
                label(r#for="retention-periods") { "Periods" }
                input(id="retention-periods", r#type="number", min="1", max=MAX_PERIODS.to_string(),
                    prop:value=move || view.with(|v| v.periods.to_string()),
                    on:change=move |e: web_sys::Event| {
                        if let Ok(n) = target_value(&e).parse::<u32>() {
                            view.update(|v| v.periods = n.clamp(1, MAX_PERIODS));
                        }
                    })
            }
        }
    }
}

/// A retention answer as a heat map: a row per cohort, a cell per period with the share of it
/// that came back. The Analytics page's is `#retention-grid` (`id`); a dashboard tile's has none.
pub(crate) fn grid(answer: RetentionResponse, id: Option<&'static str>) -> View {
    if answer.cohorts.is_empty() {
        return view! { p(class="status empty", role="status") { "No one did the start event in this range." } };
    }
    let unit = if answer.period_days == 7 {
        "Week"
    } else {
        "Day"
    };
    let periods = answer
        .cohorts
        .iter()
        .map(|c| c.returned.len())
        .max()
        .unwrap_or(0);
    let head = (0..periods)
        .map(|p| view! { th(scope="col", class="numeric") { (format!("{unit} {p}")) } })
        .collect::<Vec<_>>();
    let rows = answer
        .cohorts
        .into_iter()
        .map(|cohort| {
            let cells = (0..periods)
                .map(|p| {
                    let start = cohort.start.clone();
                    let period = p.to_string();
                    match (cohort.returned.get(p), cohort.percent.get(p)) {
                        (Some(&returned), Some(&percent)) => {
                            let title = format!("{returned} of {} users came back in {} {p}", cohort.size, unit.to_lowercase());
                            let back = returned.to_string();
                            let style = charts::heat_style(percent);
                            let shown = charts::format_percent(percent / 100.0);
                            view! {
                                td(class="heat numeric", data-cohort=start, data-period=period,
                                    data-returned=back, title=title, prop:style=style) { (shown) }
                            }
                        }
                        _ => view! { td(class="heat future", data-cohort=start, data-period=period) {} },
                    }
                })
                .collect::<Vec<_>>();
            let (start, shown) = (cohort.start.clone(), cohort.start.clone());
            let size = charts::format_number(cohort.size as f64);
            view! {
                tr(data-cohort=start) {
                    th(scope="row") { (shown) }
                    td(class="numeric cohort-size") { (size) }
                    (cells)
                }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(class="wide-table") {
            table(id=id, class="retention") {
                caption(class="visually-hidden") { "Share of each cohort who came back, per period" }
                thead { tr { th(scope="col") { "Cohort" } th(scope="col", class="numeric") { "Users" } (head) } }
                tbody { (rows) }
            }
        }
    }
}
