//! Renaming in place, for a dashboard and for an insight: the name turns into a small form
//! (Save, Cancel; Escape cancels too) holding it, the focus on its text.

use contract::auth::MAX_NAME_CHARS;
use sycamore::prelude::*;
use uuid::Uuid;

use crate::browser::after;
use crate::busy::Busy;
use crate::session::Session;

/// A name being edited, and the call saving it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Renaming {
    pub(crate) editing: Signal<bool>,
    text: Signal<String>,
    pub(crate) calls: Busy,
    /// What is renamed: `dashboard` or `insight`, and which.
    what: &'static str,
    of: Uuid,
}

impl Renaming {
    pub(crate) fn new(session: Session, what: &'static str, of: Uuid) -> Self {
        Self {
            editing: create_signal(false),
            text: create_signal(String::new()),
            calls: Busy::new(session),
            what,
            of,
        }
    }

    /// The input's id: `rename-dashboard-<id>`.
    fn input_id(self) -> String {
        format!("rename-{}-{}", self.what, self.of)
    }

    /// The form in place of `name`, the focus on its text.
    pub(crate) fn start(self, name: &str) {
        self.text.set(name.to_owned());
        self.calls.error.set(None);
        self.editing.set(true);
        let id = self.input_id();
        after(0, move || crate::a11y::focus_by_id(&id));
    }

    /// Back to the name, the focus on its Rename button.
    pub(crate) fn stop(self) {
        self.editing.set(false);
        self.calls.error.set(None);
        let id = self.start_id();
        after(0, move || crate::a11y::focus_by_id(&id));
    }

    /// The Rename button's id: `rename-dashboard-<id>-start`.
    pub(crate) fn start_id(self) -> String {
        format!("{}-start", self.input_id())
    }

    /// The form: the name (labelled `label` for screen readers), Save and Cancel. `save` gets
    /// the name trimmed, when there is one.
    pub(crate) fn form(self, label: String, save: impl Fn(String) + 'static) -> View {
        let Busy { busy, error, .. } = self.calls;
        let submit = move |event: web_sys::SubmitEvent| {
            event.prevent_default();
            let name = self.text.get_clone_untracked().trim().to_owned();
            if name.is_empty() {
                error.set(Some("A name is needed".to_owned()));
            } else {
                save(name);
            }
        };
        let on_key = move |event: web_sys::KeyboardEvent| {
            if event.key() == "Escape" {
                event.prevent_default();
                self.stop();
            }
        };
        let (id, label_for) = (self.input_id(), self.input_id());
        view! {
            form(class="rename-form", on:submit=submit, on:keydown=on_key,
                aria-busy=move || busy.get().to_string()) {
                label(class="visually-hidden", r#for=label_for) { (label) }
                input(id=id, r#type="text", required=true, autocomplete="off",
                    maxlength=MAX_NAME_CHARS.to_string(), bind:value=self.text)
                button(r#type="submit", class="rename-save", disabled=busy) {
                    (move || if busy.get() { "Saving…" } else { "Save" })
                }
                button(r#type="button", class="link-button rename-cancel", disabled=busy,
                    on:click=move |_| self.stop()) { "Cancel" }
            }
        }
    }

    /// The last call's failure, announced.
    pub(crate) fn error_view(self) -> View {
        let error = self.calls.error;
        view! {
            (move || error.get_clone().map(|message| view! {
                p(class="form-error rename-error", role="alert") { (message) }
            }))
        }
    }
}
