//! The explorer tab: the events themselves, newest first, a page at a time, and every
//! property of one in a drawer.

use contract::query::{EventView, EventsPage};
use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

use super::load::csv_button;
use super::page::{Page, event_options, target_value};
use super::pager::{Pager, Rows, more_button};
use super::url::ViewState;
use crate::api;

/// Events per page.
const PAGE: &str = "50";

/// The explorer's query for `v`, without the cursor: the bucket's window when one was chosen.
fn events_path(v: &ViewState) -> Option<String> {
    if v.project.is_empty() {
        return None;
    }
    let (from, to) = if v.at_from.is_empty() {
        (v.from.as_str(), v.to.as_str())
    } else {
        (v.at_from.as_str(), v.at_to.as_str())
    };
    Some(api::with_query(
        "/api/query/events",
        &[
            ("project_id", &v.project),
            ("from", from),
            ("to", to),
            ("filter", &v.filter_param()),
            ("include_bots", v.bots_param()),
            ("event", &v.explore_event),
            ("limit", PAGE),
        ],
    ))
}

/// The explorer's state: the rows shown and the event open in the drawer.
#[derive(Debug, Clone, Copy)]
struct Explorer {
    page: Page,
    events: Pager<EventsPage>,
    drawer: Signal<Option<EventView>>,
}

#[component]
pub(crate) fn ExplorerTab() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let explorer = Explorer {
        page,
        events: Pager::new(page.session),
        drawer: create_signal(None::<EventView>),
    };
    let wanted = create_selector(move || view.with(events_path));
    create_effect(move || explorer.events.show(wanted.get_clone()));
    on_mount(move || close_on_escape(explorer.drawer));
    let names = move || event_options(page, &view.with(|v| v.explore_event.clone()));
    let drawer = explorer.drawer;
    view! {
        div(class="explorer-tab") {
            div(class="trend-controls") {
                div(class="control") {
                    label(r#for="explorer-event") { "Event" }
                    select(id="explorer-event", on:change=move |e: web_sys::Event| {
                        let value = target_value(&e);
                        view.update(|v| v.explore_event = value);
                    }) { (names) }
                }
            }
            div(class="card") {
                (csv_button(page.session, "events", move || wanted.get_clone_untracked().map(|path| (path, None))))
                (move || events_table(explorer))
            }
            (move || drawer.get_clone().map(|event| drawer_view(event, drawer)))
        }
    }
}

/// Escape closes the drawer wherever the focus is.
fn close_on_escape(drawer: Signal<Option<EventView>>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_key = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(
        move |event: web_sys::KeyboardEvent| {
            if event.key() == "Escape" && drawer.with_untracked(Option::is_some) {
                close(drawer);
            }
        },
    );
    let _ = window.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref());
    on_cleanup(move || {
        if let Some(window) = web_sys::window() {
            let _ = window
                .remove_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref());
        }
    });
}

/// The rows as loaded: the table with its count and the button for more, or why not.
fn events_table(explorer: Explorer) -> View {
    let (events, next) = match explorer.events.rows.get_clone() {
        Rows::Loading => {
            return view! { p(class="status", role="status") { "Loading the events…" } };
        }
        Rows::Failed { message, .. } => {
            return view! { p(class="form-error", role="alert") { (message) } };
        }
        Rows::Shown { items, next, .. } => (items, next),
    };
    if events.is_empty() {
        return view! { p(id="explorer-empty", class="status empty", role="status") { "No events match." } };
    }
    let count = format!(
        "{} event{} shown{}",
        events.len(),
        if events.len() == 1 { "" } else { "s" },
        if next.is_some() { ", more to load" } else { "" }
    );
    let body = events
        .into_iter()
        .map(|event| event_row(explorer, event))
        .collect::<Vec<_>>();
    view! {
        p(id="explorer-count", class="status", role="status") { (count) }
        div(class="wide-table") {
            table(id="explorer", class="explorer") {
                caption(class="visually-hidden") { "Events, newest first; open one for all its properties" }
                thead { tr {
                    th(scope="col") { "Time (UTC)" } th(scope="col") { "Event" }
                    th(scope="col") { "User" } th(scope="col") { "Path" }
                } }
                tbody { (body) }
            }
        }
        (more_button(explorer.events, "explorer-more"))
    }
}

/// A row of the table; a click, Enter or Space opens the event in the drawer, and its user's
/// id opens their person.
fn event_row(explorer: Explorer, event: EventView) -> View {
    let drawer = explorer.drawer;
    let id = event.event_id.to_string();
    let when = event
        .timestamp
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned();
    let path = event.context.path.clone();
    let who_link = person_link(explorer.page, event.distinct_id.clone());
    let name = event.event.clone();
    let open_click = event.clone();
    let open_key = event;
    view! {
        tr(class="event-row", tabindex="0", data-event-id=id,
            on:click=move |_| drawer.set(Some(open_click.clone())),
            on:keydown=move |e: web_sys::KeyboardEvent| {
                if e.key() == "Enter" || e.key() == " " {
                    e.prevent_default();
                    drawer.set(Some(open_key.clone()));
                }
            }) {
            td(class="event-time") { (when) }
            td(class="event-name") { (name) }
            td(class="event-who") { (who_link) }
            td(class="event-path") { (path) }
        }
    }
}

/// A distinct id as a button that opens its person (without opening the row's drawer).
pub(crate) fn person_link(page: Page, distinct_id: String) -> View {
    let label = format!("Open the person {distinct_id}");
    let (shown, data) = (distinct_id.clone(), distinct_id.clone());
    view! {
        button(r#type="button", class="person-link", aria-label=label, data-distinct-id=data,
            on:click=move |e: web_sys::MouseEvent| {
                e.stop_propagation();
                page.open_person(&distinct_id);
            },
            on:keydown=|e: web_sys::KeyboardEvent| e.stop_propagation()) { (shown) }
    }
}

/// Closes the drawer and gives the focus back to the row it was opened from.
fn close(drawer: Signal<Option<EventView>>) {
    let id = drawer.with_untracked(|d| d.as_ref().map(|e| e.event_id.to_string()));
    drawer.set(None);
    if let Some(row) = id.and_then(|id| {
        web_sys::window()?
            .document()?
            .query_selector(&format!("tr.event-row[data-event-id=\"{id}\"]"))
            .ok()
            .flatten()
    }) {
        if let Ok(row) = row.dyn_into::<web_sys::HtmlElement>() {
            let _ = row.focus();
        }
    }
}

fn drawer_view(event: EventView, drawer: Signal<Option<EventView>>) -> View {
    let close_button = create_node_ref();
    on_mount(move || {
        if let Ok(button) = close_button.get().dyn_into::<web_sys::HtmlElement>() {
            let _ = button.focus();
        }
    });
    let context = &event.context;
    let mut fields: Vec<(String, String)> = vec![
        ("event".to_owned(), event.event.clone()),
        ("event id".to_owned(), event.event_id.to_string()),
        ("kind".to_owned(), event.kind.clone()),
        ("distinct id".to_owned(), event.distinct_id.clone()),
        (
            "user id".to_owned(),
            event.user_id.clone().unwrap_or_default(),
        ),
        (
            "session id".to_owned(),
            event.session_id.clone().unwrap_or_default(),
        ),
        ("time".to_owned(), event.timestamp.clone()),
        ("received".to_owned(), event.received_at.clone()),
        ("url".to_owned(), context.url.clone()),
        ("path".to_owned(), context.path.clone()),
        ("referrer".to_owned(), context.referrer.clone()),
        ("browser".to_owned(), context.browser.clone()),
        ("os".to_owned(), context.os.clone()),
        ("device".to_owned(), context.device_type.clone()),
        ("library".to_owned(), context.lib.clone()),
    ];
    fields.retain(|(_, value)| !value.is_empty());
    let fields = fields
        .into_iter()
        .map(|(name, value)| view! { dt { (name) } dd { (value) } })
        .collect::<Vec<_>>();
    let properties = event
        .properties
        .iter()
        .map(|(key, value)| {
            let (key, shown, value) = (key.clone(), key.clone(), value.clone());
            view! { tr(data-property=key) { th(scope="row") { (shown) } td { (value) } } }
        })
        .collect::<Vec<_>>();
    let name = event.event.clone();
    view! {
        div(class="drawer-backdrop", on:click=move |_| close(drawer)) {}
        aside(id="event-drawer", class="drawer", role="dialog", aria-modal="true", aria-labelledby="drawer-title") {
            div(class="drawer-head") {
                h3(id="drawer-title") { (name) }
                button(id="drawer-close", r#type="button", r#ref=close_button, on:click=move |_| close(drawer)) { "Close" }
            }
            dl(class="drawer-fields") { (fields) }
            h4 { "Properties" }
            table(id="event-properties", class="properties") { tbody { (properties) } }
        }
    }
}
