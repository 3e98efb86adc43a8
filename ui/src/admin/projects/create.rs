//! The new-project form: a name and a time zone (the browser's by default, the browser's list
//! offered); the new project's first write key is chosen for the snippets.

use contract::auth::{CreateProjectRequest, CreatedProject};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use super::state::Projects;
use crate::api::{self, Action};
use crate::session::Session;

/// What the form holds and says.
#[derive(Debug, Clone, Copy)]
struct Form {
    name: Signal<String>,
    timezone: Signal<String>,
    busy: Signal<bool>,
    error: Signal<Option<String>>,
    created: Signal<Option<String>>,
}

impl Form {
    /// `POST /api/admin/projects`, unless a call is under way; the list is loaded again after.
    fn submit(self, session: Session, projects: Projects) {
        let Form {
            name,
            timezone,
            busy,
            error,
            created,
        } = self;
        if busy.get_untracked() {
            return;
        }
        let zone = timezone.get_clone_untracked().trim().to_owned();
        let request = CreateProjectRequest {
            name: name.get_clone_untracked().trim().to_owned(),
            timezone: (!zone.is_empty()).then_some(zone),
        };
        busy.set(true);
        error.set(None);
        created.set(None);
        spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let request = request.clone();
                    async move {
                        api::send::<_, CreatedProject>(
                            "POST",
                            "/api/admin/projects",
                            &request,
                            &token,
                        )
                        .await
                    }
                })
                .await;
            if !busy.is_alive() {
                return;
            }
            busy.set(false);
            match answer {
                Ok(project) => {
                    name.set(String::new());
                    created.set(Some(format!(
                        "Created {}: its first write key is ready below.",
                        project.name
                    )));
                    projects.load(session, Some(project.write_key));
                }
                Err(err) => error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }
}

#[component(inline_props)]
pub(crate) fn CreateProject(projects: Projects) -> View {
    let session = use_context::<Session>();
    let form = Form {
        name: create_signal(String::new()),
        timezone: create_signal(browser_timezone()),
        busy: create_signal(false),
        error: create_signal(None),
        created: create_signal(None),
    };
    let Form {
        name,
        busy,
        error,
        created,
        ..
    } = form;
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        form.submit(session, projects);
    };
    view! {
        form(id="project-form", class="card create-project", on:submit=submit,
            aria-labelledby="project-form-title", aria-busy=move || busy.get().to_string()) {
            h3(id="project-form-title") { "New project" }
            div(class="form-row") {
                div(class="field") {
                    label(r#for="project-name") { "Name" }
                    input(id="project-name", r#type="text", required=true, maxlength="100",
                        autocomplete="off", placeholder="My shop", bind:value=name)
                }
                TimezoneField(timezone=form.timezone)
                button(id="project-create", r#type="submit", class="primary", disabled=busy) {
                    (move || if busy.get() { "Creating…" } else { "Create project" })
                }
            }
            (move || error.get_clone().map(|message| view! {
                p(id="project-create-error", class="form-error", role="alert") { (message) }
            }))
            (move || created.get_clone().map(|message| view! {
                p(id="project-created", class="notice", role="status") { (message) }
            }))
        }
    }
}

/// The time zone input, offering the zones the browser knows.
#[component(inline_props)]
fn TimezoneField(timezone: Signal<String>) -> View {
    let zones = timezones()
        .into_iter()
        .map(|zone| view! { option(value=zone) })
        .collect::<Vec<_>>();
    view! {
        div(class="field") {
            label(r#for="project-timezone") { "Time zone" }
            input(id="project-timezone", r#type="text", list="timezones", autocomplete="off",
                placeholder="UTC", aria-describedby="project-timezone-hint", bind:value=timezone)
            datalist(id="timezones") { (zones) }
            p(id="project-timezone-hint", class="hint") { "Days are counted in it, e.g. Europe/Paris." }
        }
    }
}

/// The browser's time zone, UTC outside a browser.
fn browser_timezone() -> String {
    if !cfg!(target_arch = "wasm32") {
        return "UTC".to_owned();
    }
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()
        .and_then(|zone| zone.as_string())
        .unwrap_or_else(|| "UTC".to_owned())
}

/// The time zones the browser knows, UTC first.
fn timezones() -> Vec<String> {
    let mut zones = vec!["UTC".to_owned()];
    if cfg!(target_arch = "wasm32") {
        let known = js_sys::Intl::supported_values_of(js_sys::Intl::SupportedValuesKey::TimeZone);
        zones.extend(
            known
                .iter()
                .filter_map(|zone| zone.as_string())
                .filter(|zone| zone != "UTC"),
        );
    }
    zones
}
