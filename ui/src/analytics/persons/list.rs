//! The list of persons with an event in the range (and the page's filters), searchable by
//! any of their ids or property values, a page at a time; a row opens its person.

use contract::query::{PersonView, PersonsPage};
use sycamore::prelude::*;

use super::who::{canonical_id, display_name, when};
use crate::analytics::charts;
use crate::analytics::page::Page;
use crate::analytics::pager::{Pager, Rows, more_button};

/// Persons per page.
const PAGE: &str = "50";

#[component]
pub(crate) fn PersonList() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let persons = Pager::<PersonsPage>::new(page.session);
    let wanted = create_selector(move || {
        view.with(|v| {
            (!v.project.is_empty()).then(|| {
                Page::path(
                    v,
                    "/api/query/persons",
                    &[("search", &v.search), ("limit", PAGE)],
                )
            })
        })
    });
    create_effect(move || persons.show(wanted.get_clone()));
    let typed = create_signal(view.with_untracked(|v| v.search.clone()));
    let search = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let text = typed.get_clone_untracked().trim().to_owned();
        view.update(|v| v.search = text);
    };
    view! {
        div(class="persons") {
            form(id="persons-search-form", class="filter-form persons-search", role="search", on:submit=search) {
                label(r#for="persons-search") { "Find a person" }
                input(id="persons-search", r#type="search", placeholder="an id, an email, a name…",
                    maxlength="200", bind:value=typed)
                button(id="persons-search-submit", r#type="submit") { "Search" }
            }
            div(class="card") { (move || table(page, persons)) }
        }
    }
}

/// The persons as loaded, or why not.
fn table(page: Page, persons: Pager<PersonsPage>) -> View {
    let (list, next) = match persons.rows.get_clone() {
        Rows::Loading => {
            return view! { p(class="status", role="status") { "Loading the persons…" } };
        }
        Rows::Failed { message, .. } => {
            return view! { p(class="form-error", role="alert") { (message) } };
        }
        Rows::Shown { items, next, .. } => (items, next),
    };
    if list.is_empty() {
        return view! {
            p(id="persons-empty", class="status empty", role="status") { "No person matches." }
        };
    }
    let count = format!(
        "{} person{} shown{}",
        charts::format_number(list.len() as f64),
        if list.len() == 1 { "" } else { "s" },
        if next.is_some() { ", more to load" } else { "" }
    );
    let project = page.view.with_untracked(|v| v.project.clone());
    let rows = list
        .into_iter()
        .map(|person| row(page, &project, person))
        .collect::<Vec<_>>();
    view! {
        p(id="persons-count", class="status", role="status") { (count) }
        div(class="wide-table") {
            table(id="persons", class="explorer") {
                caption(class="visually-hidden") { "Persons, by their identified id; open one for their events" }
                thead { tr {
                    th(scope="col") { "Person" } th(scope="col") { "Distinct ids" }
                    th(scope="col") { "First seen (UTC)" } th(scope="col") { "Last seen (UTC)" }
                } }
                tbody { (rows) }
            }
        }
        (more_button(persons, "persons-more"))
    }
}

/// A person's row; its name is the button that opens them.
fn row(page: Page, project: &str, person: PersonView) -> View {
    let id = person.id.to_string();
    let name = display_name(&person, project);
    let canonical = canonical_id(&person, project);
    let ids = person.distinct_ids.join(", ");
    let first = person.first_seen.as_deref().map(when).unwrap_or_default();
    let last = person.last_seen.as_deref().map(when).unwrap_or_default();
    let label = format!("Open the person {name}");
    let open = id.clone();
    view! {
        tr(class="person-row", data-person-id=id, data-distinct-id=canonical) {
            td(class="person-name") {
                button(r#type="button", class="person-link", aria-label=label,
                    on:click=move |_| page.view.update(|v| v.person = open.clone())) { (name) }
            }
            td(class="person-ids") { (ids) }
            td(class="event-time") { (first) }
            td(class="event-time") { (last) }
        }
    }
}
