//! The projects tab: every project with its time zone, Plausible domains and live write keys;
//! creating a project, issuing and revoking keys, and the set-up snippets for a chosen key.

use std::rc::Rc;

use contract::auth::{
    CreateProjectRequest, CreatedProject, ProjectDomains, ProjectList, ProjectView,
    SetDomainsRequest, WriteKeyView,
};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use super::browser::{after, copy_to_clipboard, origin};
use super::confirm::{Ask, Confirm};
use super::snippets::{self, Target};
use crate::api::{self, Action};
use crate::format::date_label;
use crate::session::Session;

/// The projects as last loaded, and the key the snippets are written for.
#[derive(Debug, Clone, Copy)]
struct Projects {
    list: Signal<Option<Vec<ProjectView>>>,
    loading: Signal<bool>,
    error: Signal<Option<String>>,
    /// The write key (its text) the snippets show.
    chosen: Signal<Option<String>>,
    /// Bumped by each load: an answer to an older one is not shown over a newer one's.
    generation: Signal<u64>,
}

impl Projects {
    fn load(self, session: Session, then_choose: Option<String>) {
        self.loading.set(true);
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        spawn_local(async move {
            let answer = session
                .authorized(|token| async move {
                    api::get::<ProjectList>("/api/admin/projects", &token).await
                })
                .await;
            if !self.loading.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.loading.set(false);
            match answer {
                Ok(list) => {
                    self.error.set(None);
                    self.list.set(Some(list.projects));
                    if then_choose.is_some() {
                        self.chosen.set(then_choose);
                    }
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    fn change(self, id: Uuid, change: impl FnOnce(&mut ProjectView)) {
        self.list.update(|list| {
            if let Some(project) = list.iter_mut().flatten().find(|p| p.id == id) {
                change(project);
            }
        });
    }

    /// The chosen key with its project, or the first key of any project.
    fn target(self) -> Option<(ProjectView, String)> {
        let chosen = self.chosen.get_clone();
        self.list.with(|list| {
            let projects = list.as_deref().unwrap_or_default();
            chosen
                .and_then(|key| {
                    projects
                        .iter()
                        .find(|p| p.keys.iter().any(|k| k.key == key))
                        .map(|p| (p.clone(), key))
                })
                .or_else(|| {
                    projects
                        .iter()
                        .find_map(|p| p.keys.first().map(|k| (p.clone(), k.key.clone())))
                })
        })
    }
}

#[component]
pub(crate) fn ProjectsPanel() -> View {
    let session = use_context::<Session>();
    let projects = Projects {
        list: create_signal(None),
        loading: create_signal(true),
        error: create_signal(None),
        chosen: create_signal(None),
        generation: create_signal(0),
    };
    on_mount(move || projects.load(session, None));
    let ids = create_memo(move || {
        projects
            .list
            .with(|list| list.iter().flatten().map(|p| p.id).collect::<Vec<_>>())
    });
    let empty = move || {
        !projects.loading.get()
            && projects
                .list
                .with(|list| list.as_ref().is_some_and(Vec::is_empty))
    };
    view! {
        CreateProject(projects=projects)
        (move || (projects.loading.get() && projects.list.with(Option::is_none)).then(|| view! {
            p(id="projects-loading", class="status", role="status") { "Loading projects…" }
        }))
        (move || projects.error.get_clone().map(|message| view! {
            p(id="projects-error", class="form-error", role="alert") {
                (message) " "
                button(r#type="button", class="link-button", on:click=move |_| projects.load(session, None)) {
                    "Try again"
                }
            }
        }))
        (move || empty().then(|| view! {
            p(id="projects-empty", class="status", role="status") { "No projects yet: create one above." }
        }))
        div(id="projects-list", class="projects") {
            Keyed(
                list=ids,
                view=move |id| view! { ProjectCard(id=id, projects=projects) },
                key=|id| *id,
            )
        }
        Snippets(projects=projects)
    }
}

#[component(inline_props)]
fn CreateProject(projects: Projects) -> View {
    let session = use_context::<Session>();
    let name = create_signal(String::new());
    let timezone = create_signal(browser_timezone());
    let busy = create_signal(false);
    let error: Signal<Option<String>> = create_signal(None);
    let created: Signal<Option<String>> = create_signal(None);
    let zones = timezones()
        .into_iter()
        .map(|zone| view! { option(value=zone) })
        .collect::<Vec<_>>();
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
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
                div(class="field") {
                    label(r#for="project-timezone") { "Time zone" }
                    input(id="project-timezone", r#type="text", list="timezones", autocomplete="off",
                        placeholder="UTC", aria-describedby="project-timezone-hint", bind:value=timezone)
                    datalist(id="timezones") { (zones) }
                    p(id="project-timezone-hint", class="hint") { "Days are counted in it, e.g. Europe/Paris." }
                }
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

#[component(inline_props)]
fn ProjectCard(id: Uuid, projects: Projects) -> View {
    let session = use_context::<Session>();
    let confirm = use_context::<Confirm>();
    let project = create_memo(move || {
        projects
            .list
            .with(|list| list.iter().flatten().find(|p| p.id == id).cloned())
    });
    let Some(initial) = project.get_clone_untracked() else {
        return view! {};
    };
    let busy = create_signal(false);
    let error: Signal<Option<String>> = create_signal(None);
    let domains_text = create_signal(initial.domains.join(", "));

    // Runs `call` unless one runs; its error shows on this card.
    let run = move |call: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), api::ApiError>>>,
    >| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = call.await;
            if busy.is_alive() {
                busy.set(false);
                if let Err(err) = outcome {
                    error.set(Some(api::explain(&err, Action::Work)));
                }
            }
        });
    };
    let issue = move |_| {
        run(Box::pin(async move {
            let path = format!("/api/admin/projects/{id}/keys");
            let key = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::send::<_, WriteKeyView>("POST", &path, &(), &token).await }
                })
                .await?;
            if projects.list.is_alive() {
                projects.chosen.set(Some(key.key.clone()));
                projects.change(id, |p| p.keys.push(key));
            }
            Ok(())
        }));
    };
    let save_domains = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let domains = split_domains(&domains_text.get_clone_untracked());
        run(Box::pin(async move {
            let path = format!("/api/admin/projects/{id}/domains");
            let request = SetDomainsRequest { domains };
            let saved =
                session
                    .authorized(|token| {
                        let path = path.clone();
                        let request = request.clone();
                        async move {
                            api::send::<_, ProjectDomains>("PUT", &path, &request, &token).await
                        }
                    })
                    .await?;
            if projects.list.is_alive() {
                domains_text.set(saved.domains.join(", "));
                projects.change(id, |p| p.domains = saved.domains);
            }
            Ok(())
        }));
    };
    let revoke = move |key: WriteKeyView| {
        let ask = Ask {
            title: "Revoke this write key?".to_owned(),
            message: format!(
                "Events sent with {} will be refused from now on. Sites using it stop being \
                 counted until they get a new key.",
                key.key
            ),
            confirm: "Revoke key".to_owned(),
            on_confirm: Rc::new(move || {
                let key_id = key.id;
                run(Box::pin(async move {
                    let path = format!("/api/admin/projects/{id}/keys/{key_id}");
                    session
                        .authorized(|token| {
                            let path = path.clone();
                            async move {
                                api::send_without_answer::<()>("DELETE", &path, None, &token).await
                            }
                        })
                        .await?;
                    if projects.list.is_alive() {
                        projects.change(id, |p| p.keys.retain(|k| k.id != key_id));
                    }
                    Ok(())
                }));
            }),
        };
        confirm.ask(ask);
    };

    let created = date_label(
        initial.created_at.year(),
        u8::from(initial.created_at.month()),
        initial.created_at.day(),
    );
    let title_id = format!("project-{id}-title");
    let domains_id = format!("project-{id}-domains");
    let keys = move || {
        let keys = project.with(|p| p.as_ref().map(|p| p.keys.clone()).unwrap_or_default());
        if keys.is_empty() {
            return view! { p(class="status keys-empty") { "No live write key: issue one to send events." } };
        }
        let items = keys
            .into_iter()
            .map(|key| {
                let text = key.key.clone();
                let copy = copy_button("copy-key", "Copy", format!("Copy key {}", key.key), move || text.clone());
                let chosen_text = key.key.clone();
                let is_chosen = move || projects.chosen.with(|c| c.as_deref() == Some(chosen_text.as_str()));
                let use_text = key.key.clone();
                let key_id_attr = key.id.to_string();
                let key_attr = key.key.clone();
                let key_text = key.key.clone();
                view! {
                    li(class="key", data-key-id=key_id_attr, data-key=key_attr) {
                        code(class="key-value") { (key_text) }
                        span(class="key-actions") {
                            (copy)
                            button(r#type="button", class="use-key", aria-pressed=move || is_chosen().to_string(),
                                on:click=move |_| {
                                    projects.chosen.set(Some(use_text.clone()));
                                    crate::a11y::focus_by_id("snippets-title");
                                }) { "Snippets" }
                            button(r#type="button", class="revoke-key danger", disabled=busy,
                                on:click=move |_| revoke(key.clone())) { "Revoke" }
                        }
                    }
                }
            })
            .collect::<Vec<_>>();
        view! { ul(class="keys") { (items) } }
    };
    let domain_chips = move || {
        let domains = project.with(|p| p.as_ref().map(|p| p.domains.clone()).unwrap_or_default());
        if domains.is_empty() {
            view! { span(class="muted") { "none" } }
        } else {
            domains
                .into_iter()
                .map(|d| view! { span(class="chip") { (d) } })
                .collect::<Vec<_>>()
                .into()
        }
    };
    let name = initial.name.clone();
    let name_attr = initial.name.clone();
    let id_attr = id.to_string();
    let id_text = id.to_string();
    let title_attr = title_id.clone();
    let domains_for = domains_id.clone();
    let timezone = initial.timezone.clone();
    view! {
        article(class="card project", data-project-id=id_attr, data-name=name_attr,
            aria-labelledby=title_attr) {
            header(class="project-head") {
                h3(id=title_id) { (name) }
                (move || busy.get().then(|| view! { span(class="row-busy", role="status") { "Saving…" } }))
            }
            dl(class="project-facts") {
                div { dt { "Time zone" } dd(class="project-timezone") { (timezone) } }
                div { dt { "Created" } dd { (created) } }
                div { dt { "Project id" } dd { code(class="project-id") { (id_text) } } }
                div { dt { "Domains" } dd(class="project-domains") { (domain_chips) } }
            }
            (move || error.get_clone().map(|message| view! {
                p(class="form-error project-error", role="alert") { (message) }
            }))
            h4 { "Write keys" }
            (keys)
            button(r#type="button", class="issue-key", disabled=busy, on:click=issue) { "Issue a new key" }
            form(class="domains-form", on:submit=save_domains) {
                label(r#for=domains_for) { "Plausible domains" }
                div(class="inline-field") {
                    input(id=domains_id, class="domains-input", r#type="text", autocomplete="off",
                        placeholder="shop.example, www.shop.example", bind:value=domains_text)
                    button(r#type="submit", class="save-domains", disabled=busy) { "Save domains" }
                }
            }
        }
    }
}

/// The set-up snippets for the chosen key.
#[component(inline_props)]
fn Snippets(projects: Projects) -> View {
    let origin = origin();
    let target = create_memo(move || {
        projects
            .target()
            .map(|(p, key)| (p.id, p.domains.first().cloned(), key))
    });
    let options = move || {
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
            .collect::<Vec<_>>()
    };
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
        all.into_iter()
            .map(|snippet| {
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
            })
            .collect::<Vec<_>>()
            .into()
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

/// A button that copies `text` and says "Copied" for two seconds.
fn copy_button(
    class: &'static str,
    label: &'static str,
    aria_label: String,
    text: impl Fn() -> String + 'static,
) -> View {
    let state: Signal<Option<bool>> = create_signal(None);
    let copy = move |_| {
        let text = text();
        spawn_local(async move {
            let copied = copy_to_clipboard(&text).await;
            if state.is_alive() {
                state.set(Some(copied));
                after(2_000, move || {
                    if state.is_alive() {
                        state.set(None);
                    }
                });
            }
        });
    };
    view! {
        button(r#type="button", class=class, aria-label=aria_label, on:click=copy) {
            (move || match state.get() {
                None => label,
                Some(true) => "Copied",
                Some(false) => "Copy failed",
            })
        }
        span(class="visually-hidden", role="status") {
            (move || match state.get() {
                Some(true) => "Copied to the clipboard",
                Some(false) => "Could not copy: select the text and copy it by hand",
                None => "",
            })
        }
    }
}

/// Domains typed as a list: separated by commas, spaces or new lines.
pub(crate) fn split_domains(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_split_on_commas_and_spaces() {
        assert_eq!(
            split_domains(" shop.example, www.shop.example\nblog.example ,,"),
            ["shop.example", "www.shop.example", "blog.example"]
        );
        assert!(split_domains("  ").is_empty());
    }
}
