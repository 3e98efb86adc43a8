//! The places tab: where visitors are, on a world map shaded by visitors and in tables of
//! countries, regions and cities (ingest looks them up from the client's address). A country on
//! the map, or a row of a table, narrows the page to itself.

pub(crate) mod countries;
mod map;
mod world;

use contract::query::TopResponse;
use sycamore::prelude::*;

use super::load::{Loader, show};
use super::page::Page;
use super::top::TopTabs;

/// The tables of the tab, by dimension.
const PLACES: [(&str, &str); 3] = [
    ("country", "Countries"),
    ("region", "Regions"),
    ("city", "Cities"),
];

/// Most countries there are: the map asks for all of them.
const ALL_COUNTRIES: &str = "300";

#[component]
pub(crate) fn PlacesTab() -> View {
    let page = use_context::<Page>();
    let countries = Loader::<TopResponse>::new();
    let path = create_selector(move || {
        page.view.with(|v| {
            (!v.project.is_empty()).then(|| {
                Page::path(
                    v,
                    "/api/query/top",
                    &[("dimension", "country"), ("limit", ALL_COUNTRIES)],
                )
            })
        })
    });
    create_effect(move || {
        if let Some(path) = path.get_clone() {
            countries.get(page.session, path);
        }
    });
    view! {
        div(class="places") {
            div(class="card map-card") {
                h3(id="world-map-title") { "Visitors by country" }
                (show(countries.state, "Loading the map…", move |answer| map::world_map(page, &answer)))
            }
            TopTabs(name="places", title="Locations", dimensions=&PLACES)
        }
    }
}
