//! "Save insight" beside the trends chart, each top table, the funnel and the retention grid,
//! for the project's analysts and admins: a dialog asks for a name (one suggested from the
//! view) and saves the analysis as it is shown, a preset range kept relative, to be put on
//! dashboards.

mod request;

use contract::auth::{InsightKind, InsightView};
use sycamore::prelude::*;
use uuid::Uuid;

use self::request::{request, suggested_name};
use super::dates::Preset;
use super::load::{Load, Loader};
use super::page::Page;
use super::toolbar::may_write;
use super::url::ViewState;
use crate::api;
use crate::browser::after;
use crate::busy::Busy;
use crate::confirm::follow_modal;
use crate::route::{Route, Router};

/// What a card asks to save: the kind and the call its answer came from.
#[derive(Debug, Clone)]
struct Draft {
    kind: InsightKind,
    call: (String, Option<serde_json::Value>),
    /// What the card is called ("Pages", "Trends"): a top table's suggested name.
    title: String,
}

/// The page's one Save dialog, shared through the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Saver {
    draft: Signal<Option<Draft>>,
    /// The name input's text.
    name: Signal<String>,
    /// The insight the open dialog saved.
    saved: Signal<Option<InsightView>>,
}

impl Saver {
    pub(crate) fn new() -> Self {
        Self {
            draft: create_signal(None),
            name: create_signal(String::new()),
            saved: create_signal(None),
        }
    }

    fn open(self, view: &ViewState, draft: Draft) {
        self.name
            .set(suggested_name(draft.kind, view, &draft.title));
        self.saved.set(None);
        self.draft.set(Some(draft));
    }

    fn close(self) {
        self.draft.set(None);
    }
}

/// The "Save insight" button of a card showing `loader`'s answer, called `title` there: for
/// the analysts and admins of the project, once the answer is shown.
pub(crate) fn save_button<T: 'static>(
    kind: InsightKind,
    loader: Loader<T>,
    title: impl Fn() -> String + Copy + 'static,
) -> View {
    let page = use_context::<Page>();
    let saver = use_context::<Saver>();
    let shown = create_selector(move || {
        let ready = loader.state.with(|state| matches!(state, Load::Ready(_)));
        let project = page.view.with(|v| v.project.parse::<Uuid>().ok());
        ready && project.is_some_and(|p| page.projects.with(|list| may_write(list, p)))
    });
    let ask = move |_| {
        let Some(call) = loader.call() else {
            return;
        };
        let draft = Draft {
            kind,
            call,
            title: title(),
        };
        // Not inside the view's borrow: opening draws the dialog, which makes signals.
        let view = page.view.get_clone_untracked();
        saver.open(&view, draft);
    };
    view! {
        (move || shown.get().then(|| {
            let label = format!("Save {} as an insight", title());
            view! {
                button(r#type="button", class="save-button", aria-label=label, on:click=ask) {
                    "Save insight"
                }
            }
        }))
    }
}

/// How the dialog names what is saved: "Trends · Last 7 days, kept relative".
fn about(kind: InsightKind, view: &ViewState) -> String {
    let what = match kind {
        InsightKind::Trends => "Trends chart",
        InsightKind::Top => "Top values",
        InsightKind::Funnel => "Funnel",
        InsightKind::Retention => "Retention",
    };
    let range = if view.preset == Preset::Custom {
        format!("{} to {}", view.from, view.to)
    } else {
        format!("{}, kept relative", view.preset.title())
    };
    format!("{what} · {range}")
}

/// The dialog asking the name of the insight to save, then saying it was saved.
#[component]
pub(crate) fn SaveDialog() -> View {
    let page = use_context::<Page>();
    let saver = use_context::<Saver>();
    let dialog = create_node_ref();
    let view = view! {
        dialog(r#ref=dialog, id="save-insight-dialog", class="confirm-dialog save-dialog",
            aria-labelledby="save-insight-title", on:close=move |_| saver.close()) {
            (move || saver.draft.get_clone().map(|draft| match saver.saved.get_clone() {
                None => name_form(page, saver, &draft),
                Some(saved) => saved_note(page, saver, &saved),
            }))
        }
    };
    follow_modal(
        dialog,
        move || saver.draft.with(Option::is_some),
        "insight-name",
    );
    view
}

/// The name, and Save: `POST /api/projects/{project}/insights`.
fn name_form(page: Page, saver: Saver, draft: &Draft) -> View {
    let calls = Busy::new(page.session);
    let Busy { busy, error, .. } = calls;
    let about = page.view.with_untracked(|v| about(draft.kind, v));
    let draft = draft.clone();
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let name = saver.name.get_clone_untracked();
        let (body, project) = page.view.with_untracked(|v| {
            let body = request(&name, draft.kind, v, &draft.call);
            (body, v.project.clone())
        });
        let body = match body {
            Ok(body) => body,
            Err(message) => return error.set(Some(message)),
        };
        let kind = draft.kind;
        calls.run(
            format!("/api/projects/{project}/insights"),
            move |path, token| {
                let body = body.clone();
                async move { api::send::<_, InsightView>("POST", &path, &body, &token).await }
            },
            move |saved| {
                let mut properties = serde_json::Map::new();
                properties.insert("kind".to_owned(), kind.as_str().into());
                page.tracker.capture("insight_saved", properties);
                saver.saved.set(Some(saved));
                after(0, || crate::a11y::focus_by_id("save-insight-done"));
            },
            || {},
        );
    };
    view! {
        h3(id="save-insight-title") { "Save insight" }
        p(id="save-insight-about", class="hint") { (about) }
        form(id="save-insight-form", on:submit=submit, aria-busy=move || busy.get().to_string()) {
            div(class="field") {
                label(r#for="insight-name") { "Name" }
                input(id="insight-name", r#type="text", required=true, autocomplete="off",
                    maxlength=contract::auth::MAX_NAME_CHARS.to_string(), bind:value=saver.name)
            }
            (move || error.get_clone().map(|message| view! {
                p(id="save-insight-error", class="form-error", role="alert") { (message) }
            }))
            div(class="dialog-actions") {
                button(id="save-insight-cancel", r#type="button", on:click=move |_| saver.close()) {
                    "Cancel"
                }
                button(id="save-insight-submit", r#type="submit", class="primary", disabled=busy) {
                    (move || if busy.get() { "Saving…" } else { "Save" })
                }
            }
        }
    }
}

/// "Saved", with the way to the project's dashboards.
fn saved_note(page: Page, saver: Saver, saved: &InsightView) -> View {
    let router = use_context::<Router>();
    let said = format!("Saved “{}”.", saved.name);
    let search = format!("project={}", saved.project_id);
    let href = format!("/dashboards?{search}");
    let open = move |event: web_sys::MouseEvent| {
        event.prevent_default();
        saver.close();
        router.open(Route::Dashboards, &search);
    };
    let relative = page.view.with_untracked(|v| v.preset != Preset::Custom);
    let hint = if relative {
        "It shows the same range up to the day it is opened."
    } else {
        "It shows the same dates whenever it is opened."
    };
    view! {
        h3(id="save-insight-title") { "Insight saved" }
        p(id="insight-saved", role="status") { (said) " " (hint) }
        p { a(id="insight-to-dashboards", href=href, on:click=open) { "Add it to a dashboard" } }
        div(class="dialog-actions") {
            button(id="save-insight-done", r#type="button", on:click=move |_| saver.close()) { "Done" }
        }
    }
}
