//! The form adding a note: when (now by default, on the browser's clock) and the text.

use contract::auth::{AnnotationView, MAX_ANNOTATION_CHARS};
use sycamore::prelude::*;

use super::state::{Notes, request};
use super::when;
use crate::api;
use crate::busy::Busy;

#[component(inline_props)]
pub(crate) fn AddNote(notes: Notes) -> View {
    let at = create_signal(when::input_value(when::now()));
    let content = create_signal(String::new());
    let calls = Busy::new(notes.session);
    let Busy { busy, error, .. } = calls;
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let body = request(&at.get_clone_untracked(), &content.get_clone_untracked());
        let (body, path) = match (body, notes.path(None)) {
            (Ok(body), Some(path)) => (body, path),
            (Err(message), _) => return error.set(Some(message)),
            (_, None) => return,
        };
        calls.run(
            path,
            move |path, token| {
                let body = body.clone();
                async move { api::send::<_, AnnotationView>("POST", &path, &body, &token).await }
            },
            move |_| {
                if content.is_alive() {
                    content.set(String::new());
                }
                notes.changed();
            },
            || {},
        );
    };
    let most = MAX_ANNOTATION_CHARS.to_string();
    view! {
        form(id="annotation-form", class="note-form", on:submit=submit,
            aria-busy=move || busy.get().to_string()) {
            div(class="field") {
                label(r#for="annotation-at") { "When" }
                input(id="annotation-at", r#type="datetime-local", required=true, bind:value=at)
            }
            div(class="field note-text-field") {
                label(r#for="annotation-content") { "Note" }
                input(id="annotation-content", r#type="text", required=true, maxlength=most,
                    autocomplete="off", placeholder="Launched the new pricing page",
                    bind:value=content)
            }
            button(id="annotation-add", r#type="submit", disabled=busy) {
                (move || if busy.get() { "Adding…" } else { "Add note" })
            }
        }
        (move || error.get_clone().map(|message| view! {
            p(id="annotation-error", class="form-error", role="alert") { (message) }
        }))
    }
}
