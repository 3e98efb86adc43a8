//! The form creating an API key: its name, optionally the projects it is limited to (ticked
//! among the user's) and the last day it works.

use contract::auth::{CreatedApiKey, MAX_API_KEY_NAME_CHARS};
use sycamore::prelude::*;
use uuid::Uuid;

use super::super::projects::MyProjects;
use super::state::{ApiKeys, KEYS_PATH, request};
use crate::analytics::annotations::when;
use crate::api;
use crate::browser::after;
use crate::busy::Busy;
use crate::session::Session;

/// The form's fields and its call.
#[derive(Debug, Clone, Copy)]
struct Form {
    keys: ApiKeys,
    name: Signal<String>,
    projects: Signal<Vec<Uuid>>,
    last_day: Signal<String>,
    calls: Busy,
}

impl Form {
    /// `POST /api/auth/api-keys`: the key is shown once and joins the list; the form empties.
    fn submit(self) {
        let Form {
            keys,
            name,
            projects,
            last_day,
            calls,
        } = self;
        let body = request(
            &name.get_clone_untracked(),
            &projects.get_clone_untracked(),
            &last_day.get_clone_untracked(),
            when::now(),
        );
        let body = match body {
            Ok(body) => body,
            Err(message) => {
                calls.error.set(Some(message));
                return;
            }
        };
        calls.run(
            KEYS_PATH.to_owned(),
            move |path, token| {
                let body = body.clone();
                async move { api::send::<_, CreatedApiKey>("POST", &path, &body, &token).await }
            },
            move |created| {
                if name.is_alive() {
                    name.set(String::new());
                    projects.set(Vec::new());
                    last_day.set(String::new());
                }
                keys.saved(created);
                // Once the key is drawn, the focus is on it, ready to copy.
                after(0, || crate::a11y::focus_by_id("api-key-value"));
            },
            || {},
        );
    }
}

#[component(inline_props)]
pub(crate) fn CreateKeyForm(keys: ApiKeys, projects: MyProjects) -> View {
    let form = Form {
        keys,
        name: create_signal(String::new()),
        projects: create_signal(Vec::new()),
        last_day: create_signal(String::new()),
        calls: Busy::new(use_context::<Session>()),
    };
    let Busy { busy, error, .. } = form.calls;
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        form.submit();
    };
    let today = when::input_value(when::now())
        .split('T')
        .next()
        .unwrap_or_default()
        .to_owned();
    view! {
        form(id="api-key-form", class="api-key-form", on:submit=submit,
            aria-busy=move || busy.get().to_string()) {
            div(class="field") {
                label(r#for="api-key-name") { "Name" }
                input(id="api-key-name", r#type="text", autocomplete="off", required=true,
                    maxlength=MAX_API_KEY_NAME_CHARS.to_string(), placeholder="Nightly export",
                    bind:value=form.name)
            }
            ProjectChoices(chosen=form.projects, projects=projects)
            div(class="field") {
                label(r#for="api-key-expires") {
                    "Last day it works " span(class="optional") { "(optional)" }
                }
                input(id="api-key-expires", r#type="date", min=today,
                    aria-describedby="api-key-expires-hint", bind:value=form.last_day)
                p(id="api-key-expires-hint", class="hint") {
                    "Through the end of that day on your clock; empty: until you revoke it."
                }
            }
            (move || error.get_clone().map(|message| view! {
                p(id="api-key-error", class="form-error", role="alert") { (message) }
            }))
            button(id="api-key-create", r#type="submit", class="primary", disabled=busy) {
                (move || if busy.get() { "Creating…" } else { "Create key" })
            }
        }
    }
}

/// A checkbox per project of the user's; none ticked: the key reads all of them, those the
/// user joins later included.
#[component(inline_props)]
fn ProjectChoices(chosen: Signal<Vec<Uuid>>, projects: MyProjects) -> View {
    let boxes = move || {
        let list = projects.list.get_clone().unwrap_or_default();
        list.into_iter()
            .map(|project| {
                let id = project.id;
                let box_id = format!("api-key-project-{id}");
                let box_for = box_id.clone();
                let ticked = move || chosen.with(|c| c.contains(&id));
                let toggle = move |_| {
                    chosen.update(|c| {
                        if let Some(at) = c.iter().position(|p| *p == id) {
                            c.remove(at);
                        } else {
                            c.push(id);
                        }
                    });
                };
                view! {
                    li(class="control checkbox") {
                        input(id=box_id, class="api-key-project", r#type="checkbox",
                            value=id.to_string(), prop:checked=ticked, on:change=toggle)
                        label(r#for=box_for) { (project.name) }
                    }
                }
            })
            .collect::<Vec<_>>()
    };
    view! {
        fieldset(class="api-key-projects") {
            legend {
                "Limit to some of your projects " span(class="optional") { "(optional)" }
            }
            p(class="hint") { "None ticked: every project you are a member of, now and later." }
            (move || projects.error.get_clone().map(|message| view! {
                p(class="form-error", role="alert") { "Could not list your projects: " (message) }
            }))
            ul(class="api-key-project-list") { (boxes) }
        }
    }
}
