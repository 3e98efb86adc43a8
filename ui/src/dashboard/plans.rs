//! The plans tab: monthly or yearly billing, and a plan to choose; both are events.

use serde_json::json;
use sycamore::prelude::*;

use super::catalogue::euros;
use super::event::properties;
use crate::tracker::Tracker;

/// The plans of the plans tab: name, monthly price in cents, what it holds.
const PLANS: [(&str, u64, &str); 3] = [
    ("Hobby", 0, "1 project, 1 million events a month"),
    (
        "Team",
        2_900,
        "10 projects, 20 million events, funnels and retention",
    ),
    (
        "Business",
        9_900,
        "Unlimited projects, SSO, a year of raw events",
    ),
];

/// The plans, a card each, and the billing switch.
#[component]
pub(crate) fn Plans() -> View {
    let tracker = use_context::<Tracker>();
    let yearly = create_signal(false);
    let selected = create_signal(None::<&'static str>);
    let plans = PLANS
        .iter()
        .map(|&(name, monthly_cents, about)| {
            let price = move || {
                if monthly_cents == 0 {
                    "Free".to_owned()
                } else if yearly.get() {
                    format!("{} a year", euros(monthly_cents * 10))
                } else {
                    format!("{} a month", euros(monthly_cents))
                }
            };
            let slug = name.to_lowercase();
            view! {
                li(class="plan card", id=format!("plan-{slug}")) {
                    h3 { (name) }
                    p(class="price") { (price) }
                    p { (about) }
                    button(
                        r#type="button",
                        class="choose-plan",
                        aria-pressed=move || (selected.get() == Some(name)).to_string(),
                        on:click=move |_| {
                            selected.set(Some(name));
                            let billing = if yearly.get_untracked() { "yearly" } else { "monthly" };
                            tracker.capture("plan_selected", properties(json!({
                                "plan": name.to_lowercase(),
                                "billing": billing,
                            })));
                        },
                    ) { (move || if selected.get() == Some(name) { "Chosen" } else { "Choose" }) }
                }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(id="dash-panel-plans", role="tabpanel", aria-labelledby="dash-tab-plans") {
            div(class="billing") {
                button(
                    id="billing-toggle",
                    r#type="button",
                    role="switch",
                    aria-checked=move || yearly.get().to_string(),
                    on:click=move |_| {
                        yearly.set(!yearly.get_untracked());
                        tracker.capture("button_clicked", properties(json!({
                            "button": "billing",
                            "section": "plans",
                            "billing": if yearly.get_untracked() { "yearly" } else { "monthly" },
                        })));
                    },
                ) { (move || if yearly.get() { "Billed yearly (2 months free)" } else { "Billed monthly" }) }
            }
            ul(class="plans") { (plans) }
        }
    }
}
