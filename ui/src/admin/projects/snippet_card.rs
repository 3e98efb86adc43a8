//! The "Send events" card: the write key to write for, and a snippet per way of sending
//! events with it, each with a copy button.

use sycamore::prelude::*;
use uuid::Uuid;

use super::copy::copy_button;
use super::snippets::{self, Snippet, Target};
use super::state::Projects;
use crate::browser::origin;

/// The set-up snippets for the chosen key.
#[component(inline_props)]
pub(crate) fn SnippetsCard(projects: Projects) -> View {
    let origin = origin();
    let target = create_memo(move || {
        projects
            .target()
            .map(|(p, key)| (p.id, p.domains.first().cloned(), key))
    });
    let options = move || key_options(projects, target);
    let choose = move |event: web_sys::Event| {
        let value = event
            .target()
            .and_then(|target| js_sys::Reflect::get(&target, &"value".into()).ok())
            .and_then(|value| value.as_string());
        projects.chosen.set(value);
    };
    let body = move || {
        let Some((project_id, domain, key)) = target.get_clone() else {
            return view! {
                p(id="snippets-empty", class="status", role="status") {
                    "Issue a write key to see how to send events with it."
                }
            };
        };
        let project_id = project_id.to_string();
        let all = snippets::all(&Target {
            origin: &origin,
            key: &key,
            project_id: &project_id,
            domain: domain.as_deref(),
        });
        all.into_iter().map(snippet_view).collect::<Vec<_>>().into()
    };
    view! {
        section(id="snippets", class="card snippets", aria-labelledby="snippets-title") {
            h3(id="snippets-title", tabindex="-1") { "Send events" }
            div(class="field") {
                label(r#for="snippet-key") { "Write key" }
                select(id="snippet-key", on:change=choose) { (options) }
            }
            (body)
        }
    }
}

/// Every live key of every project, named with its project; the one written for selected.
fn key_options(
    projects: Projects,
    target: ReadSignal<Option<(Uuid, Option<String>, String)>>,
) -> Vec<View> {
    let chosen = target.with(|t| t.as_ref().map(|(_, _, key)| key.clone()));
    let keys = projects.list.with(|list| {
        list.iter()
            .flatten()
            .flat_map(|p| {
                p.keys
                    .iter()
                    .map(|k| (k.key.clone(), format!("{} — {}", p.name, k.key)))
            })
            .collect::<Vec<_>>()
    });
    keys.into_iter()
        .map(|(key, label)| {
            let selected = chosen.as_deref() == Some(key.as_str());
            view! { option(value=key, selected=selected) { (label) } }
        })
        .collect()
}

/// One snippet: its title, a copy button, a note and the code.
fn snippet_view(snippet: Snippet) -> View {
    let code = snippet.code.clone();
    let copy = copy_button(
        "copy-snippet",
        "Copy",
        format!("Copy the {} snippet", snippet.title),
        move || code.clone(),
    );
    let pre_id = format!("snippet-{}", snippet.id);
    let kind = snippet.id;
    let title = snippet.title;
    let note = snippet.note;
    let text = snippet.code;
    view! {
        div(class="snippet", data-snippet=kind) {
            div(class="snippet-head") {
                h4 { (title) }
                (copy)
            }
            p(class="hint") { (note) }
            pre(id=pre_id, class="code") { code { (text) } }
        }
    }
}
