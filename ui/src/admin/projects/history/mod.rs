//! A project card's history section: every change made to the project, newest first, with when
//! it was made, by whom and what it was, read a page at a time ("Older" adds the page before).
//! It is folded until opened and reads the newest page each time it is opened. Auth keeps
//! secrets out of it: no write key past its first characters, no token, no password.

mod state;

use contract::auth::AuditEntry;
use sycamore::prelude::*;
use uuid::Uuid;

use self::state::History;
use crate::analytics::annotations::when::instant_label;
use crate::browser::after;
use crate::session::Session;

#[component(inline_props)]
pub(crate) fn HistorySection(project: Uuid, name: String) -> View {
    let session = use_context::<Session>();
    let history = History::new(project);
    let opened = move |event: web_sys::Event| {
        let open = event
            .target()
            .and_then(|target| js_sys::Reflect::get(&target, &"open".into()).ok())
            .is_some_and(|open| open.is_truthy());
        if open {
            history.load(session);
        }
    };
    // After "Older", the focus goes to the first change it added, where reading goes on.
    create_effect(move || {
        if let Some(sequence) = history.first_older.get() {
            // Once the rows it added are drawn.
            after(0, move || {
                crate::a11y::focus_by_id(&row_id(project, sequence))
            });
        }
    });
    let section_id = format!("history-{project}");
    let summary_name = format!("History of {name}");
    view! {
        details(id=section_id, class="history", on:toggle=opened) {
            summary(aria-label=summary_name) { "History" }
            p(class="hint") { "Every change to this project, newest first." }
            (move || (history.loading.get() && history.entries.with(Option::is_none)).then(|| view! {
                p(class="status history-loading", role="status") { "Loading the history…" }
            }))
            (move || history.error.get_clone().map(|message| view! {
                p(class="form-error history-error", role="alert") {
                    (message) " "
                    button(r#type="button", class="link-button", on:click=move |_| history.load(session)) {
                        "Try again"
                    }
                }
            }))
            HistoryTable(history=history, name=name)
            HistoryPager(history=history)
        }
    }
}

/// The id of the row of the change `sequence`.
fn row_id(project: Uuid, sequence: u64) -> String {
    format!("history-{project}-{sequence}")
}

/// The table of the changes read so far, or a line saying there is none.
#[component(inline_props)]
fn HistoryTable(history: History, name: String) -> View {
    let rows = create_memo(move || history.entries.get_clone().unwrap_or_default());
    let empty = move || {
        history
            .entries
            .with(|entries| entries.as_ref().is_some_and(Vec::is_empty))
    };
    let caption = format!("Changes to {name}, newest first");
    let project = history.project;
    view! {
        (move || empty().then(|| view! {
            p(class="status history-empty") { "No changes recorded yet." }
        }))
        div(class="table-scroll",
            hidden=move || history.entries.with(|e| e.as_ref().is_none_or(Vec::is_empty))) {
            table(class="admin-table history-table",
                aria-busy=move || history.loading.get().to_string()) {
                caption(class="visually-hidden") { (caption) }
                thead {
                    tr {
                        th(scope="col") { "When" }
                        th(scope="col") { "Who" }
                        th(scope="col") { "What" }
                    }
                }
                tbody {
                    Keyed(
                        list=rows,
                        view=move |entry| history_row(project, entry),
                        key=|entry| entry.sequence,
                    )
                }
            }
        }
    }
}

/// One change: when (on the browser's clock), who (their email; none for a change that names
/// nobody, or whose author was erased) and what, in words.
fn history_row(project: Uuid, entry: AuditEntry) -> View {
    let when = instant_label(entry.at.unix_timestamp());
    let sequence = entry.sequence.to_string();
    let who = if entry.actor.is_empty() {
        view! { span(class="muted") { "not recorded" } }
    } else {
        let actor = entry.actor;
        view! { (actor) }
    };
    let summary = entry.summary;
    let action = entry.action;
    view! {
        tr(id=row_id(project, entry.sequence), class="history-row", data-sequence=sequence,
            data-action=action, tabindex="-1") {
            td(class="history-when") { (when) }
            td(class="history-actor") { (who) }
            td(class="history-summary") { (summary) }
        }
    }
}

/// "Older" while an older page exists, and "Refresh" for the newest changes.
#[component(inline_props)]
fn HistoryPager(history: History) -> View {
    let session = use_context::<Session>();
    let shown = move || history.entries.with(|e| e.as_ref().map_or(0, Vec::len));
    view! {
        (move || history.entries.with(Option::is_some).then(|| view! {
            div(class="history-pager") {
                (move || history.next_before.get().is_some().then(|| view! {
                    button(r#type="button", class="history-older", disabled=history.loading,
                        on:click=move |_| history.load_older(session)) {
                        (move || if history.loading.get() { "Loading…" } else { "Older" })
                    }
                }))
                button(r#type="button", class="history-refresh", disabled=history.loading,
                    on:click=move |_| history.load(session)) { "Refresh" }
                span(class="page-label history-count", aria-live="polite") {
                    (move || match (shown(), history.next_before.get().is_some()) {
                        (1, false) => "1 change".to_owned(),
                        (n, false) => format!("{n} changes"),
                        (n, true) => format!("The newest {n} changes"),
                    })
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_section_is_folded_and_names_its_project() {
        use crate::session::{Auth, SignedIn};

        let project = Uuid::from_u128(9);
        let html = sycamore::web::render_to_string(move || {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "root@example.com",
                "name": "Root",
                "role": "admin",
            });
            let user = serde_json::from_value(user).expect("a user view");
            provide_context(Session::new(Auth::SignedIn(SignedIn::new(
                user,
                "token".to_owned(),
            ))));
            view! { HistorySection(project=project, name="Shop".to_owned()) }
        });
        assert!(
            html.contains(&format!("id=\"history-{project}\"")),
            "{html}"
        );
        assert!(html.contains("aria-label=\"History of Shop\""), "{html}");
        assert!(html.contains("Changes to Shop, newest first"), "{html}");
        for col in ["When", "Who", "What"] {
            assert!(html.contains(&format!(">{col}<")), "{col}: {html}");
        }
        assert!(!html.contains("open="), "folded until opened: {html}");
        assert!(!html.contains("history-older"), "nothing read yet: {html}");
    }
}
