//! The dashboard every signed-in user has: the product's own instrumented demo. A small shop
//! (catalogue, cart, a two-step checkout), plans and help, where every click, view and step is
//! an event of the built-in project — the data the analytics pages show, and real funnels to
//! build from it (`product_viewed` → `add_to_cart` → `checkout_started` → `order_completed`).

mod catalogue;
mod checkout;
mod event;
mod help;
mod highlights;
mod plans;
mod shop;

use serde_json::json;
use sycamore::prelude::*;

use self::event::properties;
use self::help::Help;
use self::highlights::Highlights;
use self::plans::Plans;
use self::shop::Shop;
use crate::a11y;
use crate::tracker::Tracker;

/// The tabs of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Shop,
    Plans,
    Help,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Shop, Tab::Plans, Tab::Help];

    fn name(self) -> &'static str {
        match self {
            Tab::Shop => "shop",
            Tab::Plans => "plans",
            Tab::Help => "help",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Shop => "Shop",
            Tab::Plans => "Plans",
            Tab::Help => "Help",
        }
    }
}

/// What the tracker line says.
pub(crate) fn tracker_summary(sent: u64, waiting: usize, problem: Option<&str>) -> String {
    let sent_text = match sent {
        1 => "1 event sent".to_owned(),
        n => format!("{n} events sent"),
    };
    match (waiting, problem) {
        (0, _) => format!("{sent_text}, none waiting."),
        (n, Some(problem)) => format!("{sent_text}, {n} waiting: {problem}"),
        (n, None) => format!("{sent_text}, {n} waiting."),
    }
}

#[allow(non_snake_case)]
pub(crate) fn DashboardPage() -> View {
    let tracker = use_context::<Tracker>();
    let tab = create_signal(Tab::Shop);
    let select_tab = move |next: Tab| {
        if tab.get_untracked() != next {
            tab.set(next);
            tracker.capture("tab_changed", properties(json!({ "tab": next.name() })));
        }
    };
    let tab_buttons = Tab::ALL
        .iter()
        .map(|&this| {
            let id = format!("dash-tab-{}", this.name());
            let panel = format!("dash-panel-{}", this.name());
            view! {
                button(
                    id=id,
                    r#type="button",
                    role="tab",
                    aria-controls=panel,
                    aria-selected=move || (tab.get() == this).to_string(),
                    tabindex=move || if tab.get() == this { "0" } else { "-1" },
                    on:click=move |_| select_tab(this),
                    on:keydown=move |event: web_sys::KeyboardEvent| {
                        let index = Tab::ALL.iter().position(|tab| *tab == this).unwrap_or(0);
                        let Some(next) = a11y::tab_key(index, Tab::ALL.len(), &event.key()) else {
                            return;
                        };
                        event.prevent_default();
                        let next = Tab::ALL[next];
                        select_tab(next);
                        a11y::focus_by_id(&format!("dash-tab-{}", next.name()));
                    },
                ) { (this.label()) }
            }
        })
        .collect::<Vec<_>>();
    view! {
        section(id="dashboard-page", class="dashboard", aria-labelledby="page-title") {
            div(class="dashboard-head") {
                div {
                    h2(id="page-title") { "Dashboard" }
                    p(class="intro") {
                        "This is the product's own demo shop. Everything you do here is sent as an \
                         event to the built-in project, and shows up under Analytics within seconds."
                    }
                }
                p(
                    id="tracker-status",
                    class="tracker-status",
                    role="status",
                    data-sent=move || tracker.sent().to_string(),
                    data-waiting=move || tracker.waiting().to_string(),
                ) {
                    (move || tracker_summary(tracker.sent(), tracker.waiting(), tracker.problem().as_deref()))
                }
            }
            Highlights {}
            div(class="dash-tabs", role="tablist", aria-label="Dashboard sections") {
                (tab_buttons)
            }
            (move || match tab.get() {
                Tab::Shop => view! { Shop {} },
                Tab::Plans => view! { Plans {} },
                Tab::Help => view! { Help {} },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tracker_line_says_what_is_sent_and_what_waits() {
        assert_eq!(tracker_summary(0, 0, None), "0 events sent, none waiting.");
        assert_eq!(tracker_summary(1, 2, None), "1 event sent, 2 waiting.");
        assert_eq!(
            tracker_summary(5, 1, Some("The service is unavailable, try again")),
            "5 events sent, 1 waiting: The service is unavailable, try again"
        );
    }
}
