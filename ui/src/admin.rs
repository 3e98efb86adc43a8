//! The admin panel.

use sycamore::prelude::*;

#[allow(non_snake_case)]
pub fn AdminPage() -> View {
    view! {
        section(id="admin-page", aria-labelledby="page-title") {
            h2(id="page-title") { "Admin" }
        }
    }
}
