//! The tab list of the analytics page, and the lists of event names and property keys its
//! inputs offer.

use sycamore::prelude::*;

use super::load::Load;
use super::page::{Page, all_dimensions};
use super::url::Tab;

/// The tab list: arrow keys, Home and End move between tabs.
#[component]
pub(crate) fn Tabs() -> View {
    let page = use_context::<Page>();
    let view = page.view;
    let choose = move |tab: Tab, focus: bool| {
        view.update(|v| v.tab = tab);
        if focus {
            crate::a11y::focus_by_id(&format!("tab-{}", tab.as_str()));
        }
    };
    let buttons = Tab::ALL
        .into_iter()
        .enumerate()
        .map(|(i, tab)| {
            let selected = create_selector(move || view.with(|v| v.tab == tab));
            let on_key = move |event: web_sys::KeyboardEvent| {
                let Some(next) = crate::a11y::tab_key(i, Tab::ALL.len(), &event.key()) else {
                    return;
                };
                event.prevent_default();
                choose(Tab::ALL[next], true);
            };
            view! {
                button(id=format!("tab-{}", tab.as_str()), r#type="button", role="tab",
                    class="tab", aria-selected=move || selected.get().to_string(),
                    aria-controls=format!("panel-{}", tab.as_str()),
                    tabindex=move || if selected.get() { "0" } else { "-1" },
                    on:click=move |_| choose(tab, false), on:keydown=on_key) { (tab.title()) }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(class="tabs", role="tablist", aria-label="Analytics views") { (buttons) }
    }
}

/// The event names and property keys of the range, offered by the inputs that name them.
#[component]
pub(crate) fn Catalogue() -> View {
    let page = use_context::<Page>();
    let lists = move || match page.catalog.state.get_clone() {
        Load::Ready(catalog) => {
            let events = catalog
                .events
                .iter()
                .map(|e| {
                    let name = e.event.clone();
                    view! { option(value=name) }
                })
                .collect::<Vec<_>>();
            let mut keys = all_dimensions()
                .map(|(d, _)| view! { option(value=*d) })
                .collect::<Vec<_>>();
            keys.extend(catalog.properties.iter().map(|p| {
                let key = format!("property:{}", p.key);
                view! { option(value=key) }
            }));
            view! {
                datalist(id="event-names") { (events) }
                datalist(id="property-keys") { (keys) }
            }
        }
        _ => view! {
            datalist(id="event-names") {}
            datalist(id="property-keys") {}
        },
    };
    view! { (lists) }
}
