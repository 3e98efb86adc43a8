//! Analytics, for analysts and admins.

use sycamore::prelude::*;

#[allow(non_snake_case)]
pub fn AnalyticsPage() -> View {
    view! {
        section(id="analytics-page", aria-labelledby="page-title") {
            h2(id="page-title") { "Analytics" }
        }
    }
}
