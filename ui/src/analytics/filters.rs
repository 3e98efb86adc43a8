//! The filters every analytics tab applies: removable chips for those in the view, and a form
//! to add one.

use sycamore::prelude::*;

use super::charts;
use super::page::{Page, all_dimensions};
use super::url::{self, ViewState};

/// The filters every tab applies, as removable chips, and a form to add one.
#[component]
pub(crate) fn Filters() -> View {
    view! {
        div(class="filters") {
            ActiveFilters {}
            div(class="filter-tools") {
                BotsToggle {}
                FilterForm {}
            }
        }
    }
}

/// A chip per filter, and one for the time window a chart's bucket chose.
#[component]
fn ActiveFilters() -> View {
    let view = use_context::<Page>().view;
    let chips = move || {
        let mut chips = view.with(|v| v.filters.clone())
            .into_iter()
            .enumerate()
            .map(|(i, filter)| {
                let text = url::describe(&filter);
                let label = format!("Remove the filter {text}");
                view! {
                    li(class="filter-chip", data-key=filter.key.clone()) {
                        span { (text) }
                        button(r#type="button", class="filter-chip-remove", aria-label=label,
                            on:click=move |_| view.update(|v| { if i < v.filters.len() { v.filters.remove(i); } })) { "×" }
                    }
                }
            })
            .collect::<Vec<_>>();
        chips.extend(view.with(time_chip_text).map(|text| view! {
            li(class="filter-chip", data-key="time") {
                span { (text) }
                button(r#type="button", class="filter-chip-remove", aria-label="Remove the time filter",
                    on:click=move |_| view.update(|v| { v.at_from.clear(); v.at_to.clear(); })) { "×" }
            }
        }));
        chips
    };
    view! {
        ul(id="active-filters", class="filter-chips", aria-label="Active filters") {
            (chips)
        }
    }
}

/// What the time chip says, when a bucket narrowed the view.
fn time_chip_text(v: &ViewState) -> Option<String> {
    (!v.at_from.is_empty()).then(|| {
        format!(
            "time: {} to {}",
            charts::bucket_label(&v.at_from, &v.interval),
            charts::bucket_label(&v.at_to, &v.interval)
        )
    })
}

/// The dimension a typed key names: itself when the query knows it, else a property.
fn dimension_of(key: String) -> String {
    let known = all_dimensions().any(|(d, _)| *d == key)
        || key.starts_with("property:")
        || matches!(
            key.as_str(),
            "host" | "url" | "kind" | "lib" | "distinct_id"
        );
    if known {
        key
    } else {
        format!("property:{key}")
    }
}

/// Whether the page counts the events ingest flagged as bots' (crawlers, headless browsers).
#[component]
fn BotsToggle() -> View {
    let view = use_context::<Page>().view;
    view! {
        div(class="control checkbox bots-toggle") {
            input(id="include-bots", r#type="checkbox", prop:checked=move || view.with(|v| v.include_bots),
                on:change=move |_| view.update(|v| v.include_bots = !v.include_bots))
            label(r#for="include-bots") { "Include bots" }
        }
    }
}

/// The form adding a `key = value` filter.
#[component]
fn FilterForm() -> View {
    let page = use_context::<Page>();
    let key = create_signal(String::new());
    let value = create_signal(String::new());
    let add = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let raw_key = key.get_clone_untracked().trim().to_owned();
        let raw_value = value.get_clone_untracked().trim().to_owned();
        if raw_key.is_empty() || raw_value.is_empty() {
            return;
        }
        page.add_filter(url::equals(&dimension_of(raw_key), &raw_value));
        key.set(String::new());
        value.set(String::new());
    };
    view! {
        form(id="filter-form", class="filter-form", on:submit=add) {
            label(r#for="filter-key", class="visually-hidden") { "Filter on" }
            input(id="filter-key", placeholder="path, browser or a property", list="property-keys",
                bind:value=key)
            span(aria-hidden="true") { "=" }
            label(r#for="filter-value", class="visually-hidden") { "Value" }
            input(id="filter-value", placeholder="value", bind:value=value)
            button(id="filter-add", r#type="submit") { "Add filter" }
        }
    }
}
