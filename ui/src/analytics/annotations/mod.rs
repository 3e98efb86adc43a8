//! A project's notes (annotations): dated lines such as "launched the new pricing page", listed
//! under the trends chart and marked on it. Every member reads them; the project's analysts and
//! admins add, edit and delete them.

mod form;
mod row;
mod state;
pub(crate) mod when;

use contract::auth::AnnotationView;
use sycamore::prelude::*;

use self::form::AddNote;
use self::row::NoteRow;
pub(crate) use self::state::Notes;
use super::load::Load;

/// The notes under the chart: a line each (with edit and delete for analysts and admins), and
/// the form adding one.
#[component(inline_props)]
pub(crate) fn NotesSection(notes: Notes) -> View {
    let shown = create_memo(move || {
        notes.list.state.with(|state| match state {
            Load::Ready(list) => list.annotations.clone(),
            _ => Vec::new(),
        })
    });
    let status = move || match notes.list.state.get_clone() {
        Load::Idle => view! {},
        Load::Loading => view! { p(class="status", role="status") { "Loading the notes…" } },
        Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
        Load::Ready(list) if list.annotations.is_empty() => view! {
            p(class="status notes-empty") { "No notes in this range." }
        },
        Load::Ready(_) => view! {},
    };
    view! {
        section(class="notes", aria-labelledby="notes-title") {
            h4(id="notes-title") { "Notes" }
            (status)
            ul(id="annotations", class="notes-list", hidden=move || shown.with(Vec::is_empty)) {
                Keyed(
                    list=shown,
                    view=move |note| view! { NoteRow(note=note, notes=notes) },
                    // A note changed is drawn anew, closing its editor; the others keep theirs.
                    key=|note: &AnnotationView| (note.id, note.updated_at),
                )
            }
            (move || notes.can_write.get().then(|| view! { AddNote(notes=notes) }))
        }
    }
}
