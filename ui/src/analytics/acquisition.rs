//! The acquisition tab: where visits came from, by channel (ingest's grouping of referrers
//! and campaigns, as GA4 defines it) and by the five UTM parameters of the landing page. Each
//! row narrows the page to its value.

use sycamore::prelude::*;

use super::top::{TopTable, TopTabs};

/// The UTM tables, behind tabs.
const CAMPAIGNS: [(&str, &str); 5] = [
    ("utm_source", "Source"),
    ("utm_medium", "Medium"),
    ("utm_campaign", "Campaign"),
    ("utm_term", "Term"),
    ("utm_content", "Content"),
];

#[component]
pub(crate) fn AcquisitionTab() -> View {
    view! {
        div(class="acquisition") {
            div(class="top-tables") {
                TopTable(dimension="channel", title="Channels")
                TopTable(dimension="referrer", title="Referrers")
                TopTabs(name="campaigns", title="Campaigns", dimensions=&CAMPAIGNS)
            }
        }
    }
}
