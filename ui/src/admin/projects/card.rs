//! A project's card: its facts (time zone, creation date, id, domains, retention), its write
//! keys, the forms for its Plausible domains and its retention, its imports of past events, its
//! members and its history.

use contract::auth::ProjectView;
use sycamore::prelude::*;
use uuid::Uuid;

use super::actions::CardActions;
use super::history::HistorySection;
use super::imports::ImportsSection;
use super::keys::WriteKeys;
use super::members::{Directory, MembersSection};
use super::retention::{RetentionForm, retention_label};
use super::state::Projects;
use crate::busy::Busy;
use crate::confirm::Confirm;
use crate::format::date_label;
use crate::session::Session;

#[component(inline_props)]
pub(crate) fn ProjectCard(id: Uuid, projects: Projects, directory: Directory) -> View {
    let project = create_memo(move || {
        projects
            .list
            .with(|list| list.iter().flatten().find(|p| p.id == id).cloned())
    });
    let Some(initial) = project.get_clone_untracked() else {
        return view! {};
    };
    let card = CardActions {
        id,
        confirm: use_context::<Confirm>(),
        projects,
        calls: Busy::new(use_context::<Session>()),
    };
    let Busy { busy, error, .. } = card.calls;
    let domains_text = create_signal(initial.domains.join(", "));
    let title_id = format!("project-{id}-title");
    let name = initial.name.clone();
    let name_attr = initial.name.clone();
    let members_name = initial.name.clone();
    let history_name = initial.name.clone();
    let retention = create_signal(Some(initial.retention_months));
    // A retention saved by the form is the list's too, which the facts show.
    create_effect(move || {
        if let Some(months) = retention.get() {
            let listed = project.with_untracked(|p| p.as_ref().map(|p| p.retention_months));
            if listed != Some(months) {
                projects.change(id, |p| p.retention_months = months);
            }
        }
    });
    let id_attr = id.to_string();
    let title_attr = title_id.clone();
    let facts = project_facts(&initial, project);
    view! {
        article(class="card project", data-project-id=id_attr, data-name=name_attr,
            aria-labelledby=title_attr) {
            header(class="project-head") {
                h3(id=title_id) { (name) }
                (move || busy.get().then(|| view! { span(class="row-busy", role="status") { "Saving…" } }))
            }
            (facts)
            (move || error.get_clone().map(|message| view! {
                p(class="form-error project-error", role="alert") { (message) }
            }))
            h4 { "Write keys" }
            WriteKeys(card=card, project=project)
            button(r#type="button", class="issue-key", disabled=busy, on:click=move |_| card.issue_key()) { "Issue a new key" }
            DomainsForm(card=card, text=domains_text)
            RetentionForm(project=id, saved=retention)
            ImportsSection(project=id)
            MembersSection(project=id, name=members_name, directory=directory)
            HistorySection(project=id, name=history_name)
        }
    }
}

/// The project's time zone, creation date, id, domains and retention (these as saved).
fn project_facts(initial: &ProjectView, project: ReadSignal<Option<ProjectView>>) -> View {
    let created = date_label(
        initial.created_at.year(),
        u8::from(initial.created_at.month()),
        initial.created_at.day(),
    );
    let id_text = initial.id.to_string();
    let timezone = initial.timezone.clone();
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
    let retention =
        move || retention_label(project.with(|p| p.as_ref().and_then(|p| p.retention_months)));
    view! {
        dl(class="project-facts") {
            div { dt { "Time zone" } dd(class="project-timezone") { (timezone) } }
            div { dt { "Created" } dd { (created) } }
            div { dt { "Project id" } dd { code(class="project-id") { (id_text) } } }
            div { dt { "Domains" } dd(class="project-domains") { (domain_chips) } }
            div { dt { "Retention" } dd(class="project-retention") { (retention) } }
        }
    }
}

/// The Plausible domains as typed, saved as a list.
#[component(inline_props)]
fn DomainsForm(card: CardActions, text: Signal<String>) -> View {
    let domains_id = format!("project-{}-domains", card.id);
    let domains_for = domains_id.clone();
    let save = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        card.save_domains(text);
    };
    view! {
        form(class="domains-form", on:submit=save) {
            label(r#for=domains_for) { "Plausible domains" }
            div(class="inline-field") {
                input(id=domains_id, class="domains-input", r#type="text", autocomplete="off",
                    placeholder="shop.example, www.shop.example", bind:value=text)
                button(r#type="submit", class="save-domains", disabled=card.calls.busy) { "Save domains" }
            }
        }
    }
}
