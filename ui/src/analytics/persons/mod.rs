//! The persons tab: the project's tracked people (every distinct id that identity links made
//! one), searchable, and one person with their ids, properties and events; an admin may erase
//! them. A distinct id shown anywhere on the page (explorer, live feed) opens its person here.

mod erase;
mod list;
mod person;
mod who;

use sycamore::prelude::*;

use super::page::Page;

#[component]
pub(crate) fn PersonsTab() -> View {
    let page = use_context::<Page>();
    let person = create_selector(move || page.view.with(|v| v.person.clone()));
    view! {
        (move || {
            let id = person.get_clone();
            if id.is_empty() {
                view! { list::PersonList {} }
            } else {
                view! { person::PersonCard(id=id) }
            }
        })
    }
}
