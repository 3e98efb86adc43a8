//! The funnel tab: steps named by event (the catalogue suggests names), a conversion window,
//! and per step the users who got there; a step opens its events in the explorer.

use contract::auth::InsightKind;
use contract::query::{FunnelRequest, FunnelResponse, FunnelStep, FunnelStepSpec, MAX_STEPS};
use sycamore::prelude::*;

use super::charts;
use super::load::{Load, Loader};
use super::page::{Page, target_value};
use super::save::save_button;
use super::url::{Tab, ViewState};

/// The conversion windows offered, in seconds, with their names.
const WINDOWS: [(u64, &str); 6] = [
    (3_600, "1 hour"),
    (86_400, "1 day"),
    (7 * 86_400, "7 days"),
    (14 * 86_400, "14 days"),
    (30 * 86_400, "30 days"),
    (90 * 86_400, "90 days"),
];

/// The request for the steps of `v`; `None` while fewer than two name an event.
pub(crate) fn request(v: &ViewState) -> Option<FunnelRequest> {
    let steps = v.named_steps();
    (steps.len() >= 2).then(|| FunnelRequest {
        steps: steps
            .into_iter()
            .map(|event| FunnelStepSpec {
                event,
                filters: Vec::new(),
            })
            .collect(),
        window_seconds: v.window_seconds,
        breakdown: None,
        limit: None,
    })
}

#[component]
pub(crate) fn FunnelTab() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let funnel = Loader::<FunnelResponse>::new();
    // The funnel runs when asked, and again when the range or filters change after that; a
    // link holding steps runs at once.
    let runs = create_signal(u32::from(view.with_untracked(|v| request(v).is_some())));
    let scope = create_selector(move || view.with(|v| Page::path(v, "/api/query/funnel", &[])));
    create_effect(move || {
        let path = scope.get_clone();
        if runs.get() == 0 {
            return;
        }
        let Some(request) = view.with_untracked(request) else {
            return;
        };
        if view.with_untracked(|v| v.project.is_empty()) {
            return;
        }
        match serde_json::to_value(&request) {
            Ok(body) => funnel.post(page.session, path, body),
            Err(err) => funnel.state.set(Load::Failed(err.to_string())),
        }
    });
    let run = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        if view.with_untracked(request).is_none() {
            funnel
                .state
                .set(Load::Failed("Name at least two steps".to_owned()));
            return;
        }
        funnel.reset();
        runs.update(|n| *n += 1);
    };
    view! {
        div(class="funnel-tab") {
            form(id="funnel-form", class="card builder", on:submit=run) {
                h3 { "Steps" }
                StepInputs {}
                div(class="builder-actions") {
                    button(id="funnel-add-step", r#type="button",
                        disabled=move || view.with(|v| v.steps.len() >= MAX_STEPS),
                        on:click=move |_| view.update(|v| if v.steps.len() < MAX_STEPS { v.steps.push(String::new()) })) { "Add step" }
                    WindowPicker {}
                    button(id="funnel-run", r#type="submit", class="primary") { "Run funnel" }
                }
            }
            div(class="card funnel-result") {
                (funnel.csv_button(page.session, "funnel"))
                (save_button(InsightKind::Funnel, funnel, || "the funnel".to_owned()))
                (move || match funnel.state.get_clone() {
                    Load::Idle => view! { p(class="status", role="status") { "Name two or more events and run the funnel." } },
                    Load::Loading => view! { p(class="status", role="status") { "Running the funnel…" } },
                    Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
                    Load::Ready(answer) => result(answer, Some(page)),
                })
            }
        }
    }
}

/// An input per step, each removable while more than two remain.
#[component]
fn StepInputs() -> View {
    let view = use_context::<Page>().view;
    let count = create_selector(move || view.with(|v| v.steps.len()));
    let steps = move || {
        let n = count.get();
        (0..n)
            .map(|i| {
                let id = format!("funnel-step-{}", i + 1);
                let label_for = id.clone();
                let title = format!("Step {}", i + 1);
                let remove_label = format!("Remove step {}", i + 1);
                let remove = (n > 2).then(|| view! {
                    button(r#type="button", class="step-remove", aria-label=remove_label,
                        on:click=move |_| view.update(|v| { if v.steps.len() > 2 { v.steps.remove(i); } })) { "×" }
                });
                view! {
                    li(class="step-input") {
                        label(r#for=label_for) { (title) }
                        div(class="step-row") {
                            input(id=id, list="event-names", placeholder="event name", autocomplete="off",
                                prop:value=move || view.with(|v| v.steps.get(i).cloned().unwrap_or_default()),
                                on:input=move |e: web_sys::Event| {
                                    let value = target_value(&e);
                                    view.update(|v| if let Some(step) = v.steps.get_mut(i) { *step = value; });
                                })
                            (remove)
                        }
                    }
                }
            })
            .collect::<Vec<_>>()
    };
    view! { ol(class="steps") { (steps) } }
}

/// The conversion window select.
#[component]
fn WindowPicker() -> View {
    let view = use_context::<Page>().view;
    let windows = move || {
        let chosen = view.with(|v| v.window_seconds);
        WINDOWS
            .into_iter()
            .map(|(seconds, title)| view! { option(value=seconds.to_string(), selected=seconds == chosen) { (title) } })
            .collect::<Vec<_>>()
    };
    view! {
        div(class="control") {
            label(r#for="funnel-window") { "Conversion window" }
            select(id="funnel-window", on:change=move |e: web_sys::Event| {
                if let Ok(seconds) = target_value(&e).parse::<u64>() {
                    view.update(|v| v.window_seconds = seconds);
                }
            }) { (windows) }
        }
    }
}

/// A funnel answer: the summary, a bar per step with its users and conversions, and the median
/// time to convert. On the Analytics page (`page`) the list is `#funnel-chart` and a step
/// opens its events in the explorer; on a dashboard's tile the steps are only shown.
pub(crate) fn result(answer: FunnelResponse, page: Option<Page>) -> View {
    let first = answer.steps.first().map_or(0, |s| s.count).max(1);
    let summary = match answer.steps.last() {
        Some(last) if answer.steps.first().is_some_and(|s| s.count > 0) => format!(
            "{} of {} users converted ({})",
            charts::format_number(last.count as f64),
            charts::format_number(answer.steps.first().map_or(0, |s| s.count) as f64),
            charts::format_percent(last.conversion_from_first)
        ),
        _ => "Nobody did the first step in this range.".to_owned(),
    };
    let steps = answer
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| step_line(i, step, first, page))
        .collect::<Vec<_>>();
    let median = answer.median_seconds_to_convert.map(|s| {
        let text = if s < 120.0 {
            format!("{s:.0} s")
        } else if s < 7_200.0 {
            format!("{:.0} min", s / 60.0)
        } else {
            format!("{:.1} h", s / 3_600.0)
        };
        view! { p(class="hint") { "Median time to convert: " (text) } }
    });
    let (summary_id, chart_id) = match page {
        Some(_) => (Some("funnel-summary"), Some("funnel-chart")),
        None => (None, None),
    };
    view! {
        p(id=summary_id, class="funnel-summary", role="status") { (summary) }
        ol(id=chart_id, class="funnel") { (steps) }
        (median)
    }
}

/// Step `i` of a funnel whose first step counted `first` users: its bar and figures, a button
/// opening its events on the Analytics page.
fn step_line(i: usize, step: FunnelStep, first: u64, page: Option<Page>) -> View {
    let width = format!("width: {:.1}%", step.count as f64 * 100.0 / first as f64);
    let from_previous = if i == 0 {
        "start".to_owned()
    } else {
        format!(
            "{} of step {}",
            charts::format_percent(step.conversion_from_previous),
            i
        )
    };
    let name = format!("{}. {}", i + 1, step.event);
    let count = step.count.to_string();
    let conversion = charts::format_percent(step.conversion_from_first);
    let figures = view! {
        span(class="funnel-name") { (name) }
        span(class="funnel-bar-track") { span(class="funnel-bar", prop:style=width) {} }
        span(class="funnel-figures") {
            span(class="funnel-count") { (count) }
            " users · "
            span(class="funnel-conversion") { (conversion) }
            " of the first · "
            span(class="funnel-previous") { (from_previous) }
        }
    };
    let shown = match page {
        Some(page) => {
            let label = format!(
                "Step {}: {}, {} users. Open its events",
                i + 1,
                step.event,
                step.count
            );
            let event = step.event.clone();
            let open = move || {
                let event = event.clone();
                page.view.update(move |v| {
                    v.tab = Tab::Explorer;
                    v.explore_event = event;
                    v.at_from.clear();
                    v.at_to.clear();
                });
            };
            view! {
                button(r#type="button", class="funnel-open", aria-label=label, on:click=move |_| open()) {
                    (figures)
                }
            }
        }
        None => view! { div(class="funnel-open") { (figures) } },
    };
    view! {
        li(class="funnel-step", data-step=(i + 1).to_string(), data-event=step.event) { (shown) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_funnel_needs_two_named_steps() {
        let mut view = ViewState::new("2026-11-30");
        view.steps = vec!["signup".to_owned(), "  ".to_owned()];
        assert_eq!(request(&view), None);
        view.steps = vec![" signup ".to_owned(), String::new(), "buy".to_owned()];
        let asked = request(&view).expect("a request");
        let events: Vec<_> = asked.steps.iter().map(|s| s.event.as_str()).collect();
        assert_eq!(events, ["signup", "buy"]);
        assert_eq!(asked.window_seconds, 86_400);
    }
}
