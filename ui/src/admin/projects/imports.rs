//! A project's imports of past events: an export file sent with `POST /api/imports` (the file
//! as the body), then the project's jobs, each with a progress bar of the file read, its counts
//! and state, read again every second and a half while one is not over.

use contract::imports::{ImportJob, ImportState};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;
use wasm_bindgen::JsCast as _;

use crate::api;
use crate::browser::every;
use crate::busy::Busy;
use crate::format::count_label;
use crate::session::Session;

const POLL_MS: i32 = 1_500;

/// How far through its file a job is, in whole percent (a job done is at 100).
pub(crate) fn percent(job: &ImportJob) -> u64 {
    if job.state == ImportState::Done {
        return 100;
    }
    (job.bytes_read.saturating_mul(100) / job.file_bytes.max(1)).min(100)
}

/// A job's state as the list says it.
fn state_label(state: ImportState) -> &'static str {
    match state {
        ImportState::Uploading => "uploading",
        ImportState::Queued => "queued",
        ImportState::Running => "running",
        ImportState::Done => "done",
        ImportState::Failed => "failed",
    }
}

#[component(inline_props)]
pub(crate) fn ImportsSection(project: Uuid) -> View {
    let session = use_context::<Session>();
    let jobs: Signal<Vec<ImportJob>> = create_signal(Vec::new());
    let reading = create_signal(false);
    let list_path = api::with_query("/api/imports", &[("project_id", &project.to_string())]);
    let load = move || {
        if reading.get_untracked() {
            return;
        }
        reading.set(true);
        let path = list_path.clone();
        spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::get::<Vec<ImportJob>>(&path, &token).await }
                })
                .await;
            if !reading.is_alive() {
                return;
            }
            reading.set(false);
            if let Ok(answer) = answer {
                jobs.set(answer);
            }
        });
    };
    let poll = load.clone();
    on_mount(move || {
        load();
        every(POLL_MS, move || {
            if jobs.with_untracked(|jobs| jobs.iter().any(|job| !job.state.finished())) {
                poll();
            }
        });
    });
    let form = import_form(project, jobs, Busy::new(session));
    view! {
        section(class="imports") {
            h4 { "Import events" }
            p(class="hint") {
                "Past events from a PostHog event export (JSON lines or CSV), a Segment or "
                "RudderStack archive (JSON lines) or Umami's website_event CSV, up to 1 GiB and "
                "not gzip-compressed. Importing a file again stores nothing twice."
            }
            (form)
            ul(class="import-jobs", aria-label="Imports") {
                Keyed(
                    list=jobs,
                    view=|job| view! { ImportRow(job=job) },
                    key=|job| (job.id, job.bytes_read, job.state),
                )
            }
        }
    }
}

/// The format select, the file input and the Import button; a job started goes first in `jobs`.
fn import_form(project: Uuid, jobs: Signal<Vec<ImportJob>>, calls: Busy) -> View {
    let format = create_signal("posthog".to_owned());
    let file_ref = create_node_ref();
    let Busy { busy, error, .. } = calls;
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let file = file_ref
            .get()
            .dyn_into::<web_sys::HtmlInputElement>()
            .ok()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0));
        let Some(file) = file else {
            error.set(Some("Choose an export file first".to_owned()));
            return;
        };
        let path = api::with_query(
            "/api/imports",
            &[
                ("project_id", &project.to_string()),
                ("format", &format.get_clone_untracked()),
            ],
        );
        calls.run(
            path,
            move |path, token| {
                let file = file.clone();
                async move { api::upload::file::<ImportJob>(&path, &file, &token).await }
            },
            move |job| jobs.update(|jobs| jobs.insert(0, job)),
            || {},
        );
    };
    let (format_id, file_id) = (
        format!("import-{project}-format"),
        format!("import-{project}-file"),
    );
    let (format_for, file_for) = (format_id.clone(), file_id.clone());
    view! {
        form(class="import-form", on:submit=submit, aria-busy=move || busy.get().to_string()) {
            div(class="inline-field") {
                label(r#for=format_for) { "Format" }
                select(id=format_id, class="import-format", bind:value=format) {
                    option(value="posthog") { "PostHog" }
                    option(value="segment") { "Segment / RudderStack" }
                    option(value="umami") { "Umami" }
                }
                label(r#for=file_for) { "Export file" }
                input(id=file_id, class="import-file", r#type="file", r#ref=file_ref,
                    accept=".jsonl,.json,.ndjson,.csv,text/csv,application/json")
                button(r#type="submit", class="import-start", disabled=busy) {
                    (move || if busy.get() { "Uploading…" } else { "Import" })
                }
            }
            (move || error.get_clone().map(|message| view! {
                p(class="form-error import-error", role="alert") { (message) }
            }))
        }
    }
}

/// One job: its state, a progress bar of its file read, its counts and first refusals.
#[component(inline_props)]
fn ImportRow(job: ImportJob) -> View {
    let percent = percent(&job);
    let state = state_label(job.state);
    let counts = format!(
        "{} imported · {} refused · {} of {} bytes",
        count_label(job.imported),
        count_label(job.refused),
        count_label(job.bytes_read),
        count_label(job.file_bytes)
    );
    let label = format!("Import of {} events, {percent} %", job.format);
    let errors: Vec<View> = job
        .errors
        .iter()
        .map(|error| {
            let text = match error.line {
                0 => error.error.clone(),
                line => format!("line {line}: {}", error.error),
            };
            view! { li { (text) } }
        })
        .collect();
    let errors = (!errors.is_empty()).then(|| view! { ul(class="import-errors") { (errors) } });
    let id = job.id.to_string();
    let format = job.format.clone();
    view! {
        li(class="import-job", data-import-id=id, data-state=state) {
            span(class="import-what") { (format) }
            span(class=format!("import-state chip state-{state}")) { (state) }
            div(class="import-progress", role="progressbar", aria-label=label,
                aria-valuemin="0", aria-valuemax="100", aria-valuenow=percent.to_string()) {
                div(class="import-bar", style=format!("width: {percent}%")) {}
            }
            span(class="import-percent") { (format!("{percent} %")) }
            span(class="import-counts") { (counts) }
            (errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_is_the_share_of_the_file_read_and_full_once_done() {
        let mut job = ImportJob {
            id: Uuid::nil(),
            project_id: Uuid::nil(),
            format: "posthog".to_owned(),
            file_bytes: 400,
            state: ImportState::Running,
            bytes_read: 100,
            imported: 10,
            refused: 0,
            errors: Vec::new(),
            created_at: String::new(),
            started_at: None,
            finished_at: None,
        };
        assert_eq!(percent(&job), 25);
        job.file_bytes = 0;
        assert_eq!(percent(&job), 100, "never over 100");
        job.state = ImportState::Done;
        assert_eq!(percent(&job), 100);
    }
}
