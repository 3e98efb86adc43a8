//! The dashboard's three calls to action, each click an event.

use serde_json::json;
use sycamore::prelude::*;

use super::event::properties;
use crate::tracker::Tracker;

/// Three calls to action, each a tracked button.
#[component]
pub(crate) fn Highlights() -> View {
    let tracker = use_context::<Tracker>();
    let chosen = create_signal(None::<&'static str>);
    let cards = [
        (
            "guide",
            "Read the guide",
            "Ten minutes from the first event to the first funnel.",
        ),
        (
            "invite",
            "Invite a teammate",
            "Project members see trends; admins manage keys and members.",
        ),
        (
            "upgrade",
            "See what's new",
            "Funnels by breakdown and retention heat maps.",
        ),
    ]
    .into_iter()
    .map(|(name, title, text)| {
        view! {
            li(class="highlight") {
                h3 { (title) }
                p { (text) }
                button(
                    id=format!("highlight-{name}"),
                    r#type="button",
                    on:click=move |_| {
                        chosen.set(Some(title));
                        tracker.capture(
                            "button_clicked",
                            properties(json!({ "button": name, "section": "highlights" })),
                        );
                    },
                ) { "Open" }
            }
        }
    })
    .collect::<Vec<_>>();
    view! {
        ul(class="highlights") { (cards) }
        (move || chosen.get().map(|title| view! {
            p(id="highlight-chosen", class="notice", role="status") {
                "You opened \u{201c}" (title) "\u{201d}: that click is an event now."
            }
        }))
    }
}
