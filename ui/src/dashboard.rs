//! The dashboard every signed-in user has: the product's own instrumented demo.

use sycamore::prelude::*;

#[allow(non_snake_case)]
pub fn DashboardPage() -> View {
    view! {
        section(id="dashboard-page", aria-labelledby="page-title") {
            h2(id="page-title") { "Dashboard" }
        }
    }
}
