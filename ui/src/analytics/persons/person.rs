//! One person: who they are (their distinct ids and properties, first and last seen) and their
//! events in the range as a timeline, newest first, a page at a time; for an admin, the way to
//! erase them.

use contract::auth::Role;
use contract::query::{EventView, PersonResponse, PersonView};
use sycamore::prelude::*;

use super::erase::EraseAction;
use super::who::{display_name, when};
use crate::analytics::page::Page;
use crate::analytics::pager::{Pager, Rows, more_button};

/// Events per page of the timeline.
const PAGE: &str = "50";

#[component(inline_props)]
pub(crate) fn PersonCard(id: String) -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let person = Pager::<PersonResponse>::new(page.session);
    let path = format!("/api/query/persons/{}", crate::api::encode_component(&id));
    let wanted = create_selector(move || {
        view.with(|v| (!v.project.is_empty()).then(|| Page::path(v, &path, &[("limit", PAGE)])))
    });
    create_effect(move || person.show(wanted.get_clone()));
    let back = move |_| view.update(|v| v.person.clear());
    view! {
        div(id="person", class="person") {
            button(id="person-back", r#type="button", class="link-button", on:click=back) {
                "← All persons"
            }
            (move || match person.rows.get_clone() {
                Rows::Loading => view! { p(class="status", role="status") { "Loading the person…" } },
                Rows::Failed { status: Some(404), .. } => view! {
                    p(id="person-missing", class="status empty", role="status") {
                        "No such person in this project: no event of theirs is stored."
                    }
                },
                Rows::Failed { message, .. } => view! { p(class="form-error", role="alert") { (message) } },
                Rows::Shown { head, items, .. } => details(page, person, head, items),
            })
        }
    }
}

/// The person's card and timeline.
fn details(
    page: Page,
    pager: Pager<PersonResponse>,
    person: PersonView,
    events: Vec<EventView>,
) -> View {
    let project = page.view.with_untracked(|v| v.project.clone());
    let name = display_name(&person, &project);
    let admin = page
        .session
        .user()
        .is_some_and(|user| user.role.includes(Role::Admin));
    let ids = person
        .distinct_ids
        .iter()
        .map(|id| {
            let id = id.clone();
            view! { li { code { (id) } } }
        })
        .collect::<Vec<_>>();
    let properties = if person.properties.is_empty() {
        view! { p(class="hint") { "No properties were set on this person." } }
    } else {
        let rows = person
            .properties
            .iter()
            .map(|(key, value)| {
                let (key, shown, value) = (key.clone(), key.clone(), value.clone());
                view! { tr(data-property=key) { th(scope="row") { (shown) } td { (value) } } }
            })
            .collect::<Vec<_>>();
        view! { table(id="person-properties", class="properties") { tbody { (rows) } } }
    };
    let first = person.first_seen.as_deref().map(when).unwrap_or_default();
    let last = person.last_seen.as_deref().map(when).unwrap_or_default();
    let erase = admin.then(|| view! { EraseAction(person=person.clone()) });
    let events = timeline(events);
    let more = more_button(pager, "person-more");
    view! {
        div(class="person-grid") {
            section(class="card person-card", aria-labelledby="person-title") {
                h3(id="person-title") { (name) }
                dl(class="drawer-fields") {
                    dt { "First seen (UTC)" } dd(id="person-first-seen") { (first) }
                    dt { "Last seen (UTC)" } dd(id="person-last-seen") { (last) }
                }
                h4 { "Distinct ids" }
                ul(id="person-ids", class="person-ids") { (ids) }
                h4 { "Properties" }
                (properties)
                (erase)
            }
            section(class="card person-timeline", aria-labelledby="timeline-title") {
                h3(id="timeline-title") { "Events in the range" }
                (events)
                (more)
            }
        }
    }
}

/// The events, newest first; each opens to show its properties.
fn timeline(events: Vec<EventView>) -> View {
    if events.is_empty() {
        return view! {
            p(id="person-no-events", class="status empty", role="status") {
                "No event of this person in the range."
            }
        };
    }
    let items = events
        .into_iter()
        .map(|event| {
            let id = event.event_id.to_string();
            let time = when(&event.timestamp);
            let name = event.event.clone();
            let path = event.context.path.clone();
            let who = event.distinct_id.clone();
            let properties = event
                .properties
                .into_iter()
                .map(|(key, value)| view! { tr { th(scope="row") { (key) } td { (value) } } })
                .collect::<Vec<_>>();
            view! {
                li(class="timeline-item", data-event-id=id) {
                    details {
                        summary {
                            span(class="event-time") { (time) }
                            strong(class="event-name") { (name) }
                            span(class="event-path") { (path) }
                            span(class="event-who") { (who) }
                        }
                        table(class="properties") { tbody { (properties) } }
                    }
                }
            }
        })
        .collect::<Vec<_>>();
    view! { ol(id="person-events", class="timeline") { (items) } }
}
