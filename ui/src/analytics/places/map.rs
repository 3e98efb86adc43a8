//! The world map: an SVG of every country, shaded by its visitors; a country with visitors is a
//! button that narrows the page to it (`country = XX`), by mouse, Enter or Space.

use std::collections::HashMap;

use contract::query::TopResponse;
use sycamore::prelude::*;

use super::world::{Shape, world};
use crate::analytics::charts;
use crate::analytics::page::Page;
use crate::analytics::url;

/// The map of `answer` (the top countries): each country's share of the most visited one's
/// visitors sets how strongly it is shaded.
pub(crate) fn world_map(page: Page, answer: &TopResponse) -> View {
    let users: HashMap<&str, u64> = answer
        .values
        .iter()
        .filter(|v| !v.value.is_empty())
        .map(|v| (v.value.as_str(), v.users))
        .collect();
    let most = users.values().copied().max().unwrap_or(0).max(1);
    let world = world();
    let shapes = world
        .shapes
        .iter()
        .map(|shape| {
            country(
                page,
                shape,
                users.get(shape.code).copied().unwrap_or(0),
                most,
            )
        })
        .collect::<Vec<_>>();
    let view_box = format!("0 0 {} {}", world.width, world.height);
    let counted = users.len();
    let summary = if counted == 0 {
        "No visitor's country is known in this range.".to_owned()
    } else {
        format!(
            "Visitors from {counted} countr{}; the most from one: {}.",
            if counted == 1 { "y" } else { "ies" },
            charts::format_number(most as f64)
        )
    };
    view! {
        svg(id="world-map", class="world-map", "viewBox"=view_box, "role"="group",
            aria-labelledby="world-map-title", "preserveAspectRatio"="xMidYMid meet") {
            (shapes)
        }
        div(class="map-legend", aria-hidden="true") {
            span { "Fewer" }
            span(class="map-scale") {}
            span { "More visitors" }
        }
        p(id="world-map-summary", class="hint") { (summary) }
    }
}

/// One country: a plain shape without visitors, a shaded button with them.
fn country(page: Page, shape: &Shape, users: u64, most: u64) -> View {
    let code = shape.code;
    let d = shape.d.clone();
    let visitors = charts::format_number(users as f64);
    let title = format!(
        "{}: {visitors} visitor{}",
        shape.name,
        if users == 1 { "" } else { "s" }
    );
    if users == 0 {
        return view! {
            path(class="country", "d"=d, data-country=code) { title { (title) } }
        };
    }
    // A square root, so that a country with a few visitors still shows beside one with many.
    let share = (users as f64 / most as f64).sqrt();
    let style = format!("fill-opacity: {:.2}", 0.25 + 0.75 * share);
    let label = format!("{title}. Filter on this country");
    let add = move || page.add_filter(url::equals("country", code));
    view! {
        path(class="country visited", "d"=d, data-country=code, data-users=users.to_string(),
            style=style, tabindex="0", "role"="button", aria-label=label,
            on:click=move |_| add(),
            on:keydown=move |event: web_sys::KeyboardEvent| {
                if event.key() == "Enter" || event.key() == " " {
                    event.prevent_default();
                    add();
                }
            }) {
            title { (title) }
        }
    }
}
