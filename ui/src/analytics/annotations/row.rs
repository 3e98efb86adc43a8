//! A note of the list: its date, text and author; for analysts and admins an Edit button that
//! turns the line into a small form in place, and Delete, asked first.

use std::rc::Rc;

use contract::auth::{AnnotationView, MAX_ANNOTATION_CHARS};
use sycamore::prelude::*;
use uuid::Uuid;

use super::state::{Notes, request};
use super::when;
use crate::api;
use crate::browser::after;
use crate::busy::Busy;
use crate::confirm::{Ask, Confirm};

/// One line's note and calls, and whether it is being edited.
#[derive(Debug, Clone, Copy)]
struct Line {
    id: Uuid,
    notes: Notes,
    calls: Busy,
    editing: Signal<bool>,
    /// The edit form's inputs.
    at: Signal<String>,
    content: Signal<String>,
}

impl Line {
    /// The form in place of the line, holding the note as it is, the focus on its text.
    fn edit(self, note: &AnnotationView) {
        self.at.set(when::input_value(note.at.unix_timestamp()));
        self.content.set(note.content.clone());
        self.calls.error.set(None);
        self.editing.set(true);
        let id = self.input_id("content");
        after(0, move || crate::a11y::focus_by_id(&id));
    }

    /// Back to the line, the focus on its Edit button.
    fn cancel(self) {
        self.editing.set(false);
        self.calls.error.set(None);
        let id = self.input_id("edit");
        after(0, move || crate::a11y::focus_by_id(&id));
    }

    fn input_id(self, part: &str) -> String {
        format!("note-{}-{part}", self.id)
    }

    /// `PUT …/annotations/{id}`: the list is read again, which draws the line anew.
    fn save(self) {
        let body = request(
            &self.at.get_clone_untracked(),
            &self.content.get_clone_untracked(),
        );
        let (body, path) = match (body, self.notes.path(Some(self.id))) {
            (Ok(body), Some(path)) => (body, path),
            (Err(message), _) => return self.calls.error.set(Some(message)),
            (_, None) => return,
        };
        let notes = self.notes;
        self.calls.run(
            path,
            move |path, token| {
                let body = body.clone();
                async move { api::send::<_, AnnotationView>("PUT", &path, &body, &token).await }
            },
            move |_| notes.changed(),
            || {},
        );
    }

    /// Asks, then `DELETE …/annotations/{id}`.
    fn ask_delete(self, confirm: Confirm, content: String) {
        confirm.ask(Ask {
            title: "Delete this note?".to_owned(),
            message: format!("“{content}” will be removed from the chart for everyone."),
            confirm: "Delete note".to_owned(),
            on_confirm: Rc::new(move || self.delete()),
        });
    }

    fn delete(self) {
        let Some(path) = self.notes.path(Some(self.id)) else {
            return;
        };
        let notes = self.notes;
        self.calls.run(
            path,
            |path, token| async move {
                api::send_without_answer::<()>("DELETE", &path, None, &token).await
            },
            move |()| notes.changed(),
            || {},
        );
    }
}

#[component(inline_props)]
pub(crate) fn NoteRow(note: AnnotationView, notes: Notes) -> View {
    let line = Line {
        id: note.id,
        notes,
        calls: Busy::new(notes.session),
        editing: create_signal(false),
        at: create_signal(String::new()),
        content: create_signal(String::new()),
    };
    let error = line.calls.error;
    let note = Rc::new(note);
    let body = move || {
        if line.editing.get() {
            edit_form(line)
        } else {
            shown(line, Rc::clone(&note))
        }
    };
    view! {
        li(class="note", data-annotation=line.id.to_string()) {
            (body)
            (move || error.get_clone().map(|message| view! {
                p(class="form-error note-error", role="alert") { (message) }
            }))
        }
    }
}

/// The note as a line: date, text, author, and its buttons for those who may change it.
fn shown(line: Line, note: Rc<AnnotationView>) -> View {
    let unix = note.at.unix_timestamp();
    let date = when::label(unix);
    let stamp = super::super::dates::rfc3339(unix);
    let content = note.content.clone();
    let author = (!note.created_by.is_empty()).then(|| {
        let by = format!("by {}", note.created_by);
        view! { span(class="note-author") { (by) } }
    });
    let buttons = line.notes.can_write.get().then(|| {
        let confirm = use_context::<Confirm>();
        let busy = line.calls.busy;
        let edit_label = format!("Edit the note of {date}");
        let delete_label = format!("Delete the note of {date}");
        let asked = note.content.clone();
        view! {
            span(class="note-actions") {
                button(id=line.input_id("edit"), r#type="button", class="link-button note-edit",
                    aria-label=edit_label, disabled=busy, on:click=move |_| line.edit(&note)) { "Edit" }
                button(r#type="button", class="link-button note-delete", aria-label=delete_label,
                    disabled=busy, on:click=move |_| line.ask_delete(confirm, asked.clone())) { "Delete" }
            }
        }
    });
    view! {
        time(class="note-at", datetime=stamp) { (date.clone()) }
        span(class="note-content") { (content) }
        (author)
        (buttons)
    }
}

/// The note as a small form: its time and text, Save and Cancel (Escape cancels too).
fn edit_form(line: Line) -> View {
    let busy = line.calls.busy;
    let (at_id, content_id) = (line.input_id("at"), line.input_id("content"));
    let (at_for, content_for) = (at_id.clone(), content_id.clone());
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        line.save();
    };
    let on_key = move |event: web_sys::KeyboardEvent| {
        if event.key() == "Escape" {
            event.prevent_default();
            line.cancel();
        }
    };
    let most = MAX_ANNOTATION_CHARS.to_string();
    view! {
        form(class="note-edit-form", on:submit=submit, on:keydown=on_key,
            aria-busy=move || busy.get().to_string()) {
            label(class="visually-hidden", r#for=at_for) { "When" }
            input(id=at_id, class="note-edit-at", r#type="datetime-local", required=true,
                bind:value=line.at)
            label(class="visually-hidden", r#for=content_for) { "Note" }
            input(id=content_id, class="note-edit-content", r#type="text", required=true,
                maxlength=most, autocomplete="off", bind:value=line.content)
            button(r#type="submit", class="note-save", disabled=busy) {
                (move || if busy.get() { "Saving…" } else { "Save" })
            }
            button(r#type="button", class="link-button note-cancel", disabled=busy,
                on:click=move |_| line.cancel()) { "Cancel" }
        }
    }
}
