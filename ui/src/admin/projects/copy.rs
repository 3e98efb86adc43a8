//! A button that copies a text to the clipboard and says whether it did.

use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::browser::{after, copy_to_clipboard};

/// A button that copies `text` and says "Copied" for two seconds.
pub(crate) fn copy_button(
    class: &'static str,
    label: &'static str,
    aria_label: String,
    text: impl Fn() -> String + 'static,
) -> View {
    let state: Signal<Option<bool>> = create_signal(None);
    let copy = move |_| {
        let text = text();
        spawn_local(async move {
            let copied = copy_to_clipboard(&text).await;
            if state.is_alive() {
                state.set(Some(copied));
                after(2_000, move || {
                    if state.is_alive() {
                        state.set(None);
                    }
                });
            }
        });
    };
    view! {
        button(r#type="button", class=class, aria-label=aria_label, on:click=copy) {
            (move || match state.get() {
                None => label,
                Some(true) => "Copied",
                Some(false) => "Copy failed",
            })
        }
        span(class="visually-hidden", role="status") {
            (move || match state.get() {
                Some(true) => "Copied to the clipboard",
                Some(false) => "Could not copy: select the text and copy it by hand",
                None => "",
            })
        }
    }
}
