//! The help tab: questions whose opening is an event, and a contact button.

use serde_json::json;
use sycamore::prelude::*;

use super::event::properties;
use crate::tracker::Tracker;

const QUESTIONS: [(&str, &str); 3] = [
    (
        "Where do these events go?",
        "To the built-in project of this server. Its members see them under Analytics.",
    ),
    (
        "Is anything sent twice?",
        "No: each event carries its own id, and one sent again after a failure is stored once.",
    ),
    (
        "What happens when I close the tab?",
        "Events still waiting leave in a request the browser completes after the page is gone.",
    ),
];

/// The questions and the contact button.
#[component]
pub(crate) fn Help() -> View {
    let tracker = use_context::<Tracker>();
    let contacted = create_signal(false);
    let questions = QUESTIONS
        .iter()
        .enumerate()
        .map(|(index, &(question, answer))| {
            view! {
                details(class="faq", id=format!("faq-{}", index + 1), on:toggle=move |event: web_sys::Event| {
                    use wasm_bindgen::JsCast as _;
                    let open = event
                        .target()
                        .and_then(|target| target.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                        .is_some_and(|details| details.open());
                    if open {
                        tracker.capture("faq_opened", properties(json!({ "question": index + 1 })));
                    }
                }) {
                    summary { (question) }
                    p { (answer) }
                }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(id="dash-panel-help", role="tabpanel", aria-labelledby="dash-tab-help") {
            (questions)
            button(id="contact-support", r#type="button", on:click=move |_| {
                contacted.set(true);
                tracker.capture("button_clicked", properties(json!({
                    "button": "contact_support", "section": "help",
                })));
            }) { "Contact support" }
            (move || contacted.get().then(|| view! {
                p(class="notice", role="status") { "Thanks: someone will write to you within a day." }
            }))
        }
    }
}
