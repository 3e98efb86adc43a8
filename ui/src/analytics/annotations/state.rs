//! The notes of the range the trends chart shows, as last read, where each is written, and
//! whether the caller may write them; the body an add or an edit sends.

use contract::auth::{AnnotationList, AnnotationRequest, MAX_ANNOTATION_CHARS};
use contract::query::{TimeRange, TrendsResponse};
use sycamore::prelude::*;
use uuid::Uuid;

use super::super::load::{Load, Loader};
use super::super::page::Page;
use super::super::toolbar::may_write;
use super::when;
use crate::api;
use crate::session::Session;

/// The notes of the project and range the trends chart shows, and whether the caller may
/// change them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notes {
    pub(crate) list: Loader<AnnotationList>,
    pub(crate) session: Session,
    /// The project of the trends answer shown: the notes' project.
    project: ReadSignal<Option<Uuid>>,
    /// Whether the caller is an analyst or an admin of that project.
    pub(crate) can_write: ReadSignal<bool>,
}

impl Notes {
    /// The notes of the range the trends answer covered, exactly (its instants, in the
    /// project's zone), read again whenever an answer covers another project or range. While
    /// the chart loads (another interval, say) the notes and the form stay as they are.
    pub(crate) fn follow(page: Page, trends: Loader<TrendsResponse>) -> Self {
        let list = Loader::new();
        let scope = create_signal(None::<(Uuid, TimeRange)>);
        create_effect(move || {
            let covered = trends.state.with(|state| match state {
                Load::Ready(answer) => Some((answer.scope.project_id, answer.scope.range.clone())),
                _ => None,
            });
            if covered.is_some() && scope.with_untracked(|shown| *shown != covered) {
                scope.set(covered);
            }
        });
        create_effect(move || {
            if let Some((project, range)) = scope.get_clone() {
                let path = api::with_query(
                    &list_path(project),
                    &[("from", &range.from), ("to", &range.to)],
                );
                list.get(page.session, path);
            }
        });
        let project = create_memo(move || scope.with(|s| s.as_ref().map(|(project, _)| *project)));
        let can_write = create_memo(move || {
            project
                .get()
                .is_some_and(|project| page.projects.with(|list| may_write(list, project)))
        });
        Self {
            list,
            session: page.session,
            project,
            can_write,
        }
    }

    /// `/api/projects/{project}/annotations`, or a note's path under it; `None` before the
    /// trends answer named the project.
    pub(crate) fn path(self, note: Option<Uuid>) -> Option<String> {
        let list = list_path(self.project.get_untracked()?);
        Some(match note {
            Some(note) => format!("{list}/{note}"),
            None => list,
        })
    }

    /// A note was added, changed or deleted: the list and the chart read them again.
    pub(crate) fn changed(self) {
        self.list.refresh(self.session);
    }
}

fn list_path(project: Uuid) -> String {
    format!("/api/projects/{project}/annotations")
}

/// The body of an add or an edit: the time the `datetime-local` input `at` holds and the text,
/// or the sentence saying what is missing.
pub(crate) fn request(at: &str, content: &str) -> Result<AnnotationRequest, String> {
    let content = content.trim();
    if content.is_empty() {
        return Err("Write the note first".to_owned());
    }
    if content.chars().count() > MAX_ANNOTATION_CHARS {
        return Err(format!(
            "A note has {MAX_ANNOTATION_CHARS} characters at most"
        ));
    }
    let invalid = || "Choose the date and time the note is about".to_owned();
    let at = when::from_input(at).ok_or_else(invalid)?;
    serde_json::from_value(serde_json::json!({ "at": at, "content": content }))
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_needs_its_text_and_a_time() {
        let note = request("2026-11-04T12:30", "  Launched pricing  ").expect("a request");
        assert_eq!(note.content, "Launched pricing");
        assert_eq!(note.at.unix_timestamp(), 1_793_795_400);
        assert_eq!(
            request("2026-11-04T12:30", " ").expect_err("empty"),
            "Write the note first"
        );
        assert!(request("", "text").is_err());
        let long = "é".repeat(MAX_ANNOTATION_CHARS + 1);
        assert_eq!(
            request("2026-11-04T12:30", &long).expect_err("too long"),
            "A note has 400 characters at most"
        );
        assert!(request("2026-11-04T12:30", &long[2..]).is_ok());
    }
}
