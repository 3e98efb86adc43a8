//! A tile of an open dashboard: its insight's name, a link to the Analytics page showing it in
//! full (as does a click on its figure), what it shows, and its answer drawn live from
//! `GET /api/query/insights/{id}`; for analysts and admins, buttons moving it up or down the
//! dashboard and removing it.

use std::rc::Rc;

use contract::auth::{InsightKind, InsightView};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use super::state::Boards;
use crate::analytics::insight::{Answer, about, fetch, shown};
use crate::analytics::load::Load;
use crate::api;
use crate::route::{Route, Router};

/// What a tile's buttons do to its dashboard, and the dashboard's order, which says where the
/// tile stands.
#[derive(Clone)]
pub(crate) struct TileActions {
    /// The dashboard's tiles in order (tracked by the buttons).
    pub(crate) order: ReadSignal<Vec<Uuid>>,
    /// Moves a tile one place up (-1) or down (+1).
    pub(crate) shift: Rc<dyn Fn(Uuid, isize)>,
    pub(crate) remove: Rc<dyn Fn(Uuid)>,
    /// Whether a change of the dashboard is on its way: the buttons wait.
    pub(crate) busy: Signal<bool>,
    /// Bumped by the dashboard's Refresh: every tile asks again.
    pub(crate) refreshed: ReadSignal<u32>,
}

/// Whether an insight's trends chart is drawn as a line: what its Analytics view says.
pub(crate) fn drawn_as_line(insight: &InsightView) -> bool {
    insight.kind == InsightKind::Trends
        && crate::api::query_pairs(&insight.view)
            .iter()
            .any(|(name, value)| name == "chart" && value == "line")
}

#[component(inline_props)]
pub(crate) fn Tile(insight: InsightView, actions: TileActions) -> View {
    let boards = use_context::<Boards>();
    let router = use_context::<Router>();
    let answer = create_signal(Load::<Answer>::Loading);
    let id = insight.id;
    let kind = insight.kind;
    let refreshed = actions.refreshed;
    create_effect(move || {
        refreshed.track();
        load(boards, id, kind, answer);
    });
    let title_id = format!("tile-{id}-title");
    let url = boards.analytics_url(&insight);
    let search = url.trim_start_matches("/analytics?").to_owned();
    let open = Rc::new(move || router.open(Route::Analytics, &search));
    let open_from_title = Rc::clone(&open);
    let on_title = move |event: web_sys::MouseEvent| {
        let modified = event.ctrl_key() || event.meta_key() || event.shift_key() || event.alt_key();
        if !modified {
            event.prevent_default();
            open_from_title();
        }
    };
    let name = insight.name.clone();
    let described = about(insight.kind, &insight.query);
    let buttons = move || {
        boards
            .can_write
            .get()
            .then(|| tile_buttons(&actions, id, &name))
    };
    let line = drawn_as_line(&insight);
    let body = shown(answer, line, title_id.clone());
    let open_label = format!("Open {} in Analytics", insight.name);
    view! {
        li(class="card tile", data-insight=id.to_string(), data-kind=kind.as_str()) {
            div(class="tile-head") {
                div(class="tile-titles") {
                    h4(id=title_id, class="tile-title") {
                        a(href=url, on:click=on_title, title=open_label) { (insight.name.clone()) }
                    }
                    p(class="tile-about muted") { (described) }
                }
                (buttons)
            }
            // A click on the figure opens it in Analytics too; the title's link is the way
            // there by keyboard.
            div(class="tile-body", on:click=move |_| open()) { (body) }
        }
    }
}

/// `GET /api/query/insights/{id}` into `answer`, keeping what is shown until it comes.
fn load(boards: Boards, id: Uuid, kind: InsightKind, answer: Signal<Load<Answer>>) {
    if !cfg!(target_arch = "wasm32") {
        return;
    }
    let session = boards.session;
    let path = format!("/api/query/insights/{id}");
    spawn_local(async move {
        let loaded = fetch(kind, || {
            let path = path.clone();
            async move {
                session
                    .authorized(|token| {
                        let path = path.clone();
                        async move { api::get::<serde_json::Value>(&path, &token).await }
                    })
                    .await
            }
        })
        .await;
        if answer.is_alive() {
            answer.set(loaded);
        }
    });
}

/// Move up, Move down and Remove, each saying which tile it is about.
fn tile_buttons(actions: &TileActions, id: Uuid, name: &str) -> View {
    let TileActions {
        order,
        shift,
        remove,
        busy,
        ..
    } = actions.clone();
    let at = create_memo(move || order.with(|o| o.iter().position(|i| *i == id)));
    let first = move || busy.get() || at.get().is_none_or(|at| at == 0);
    let last = move || busy.get() || at.get().is_none_or(|at| at + 1 >= order.with(Vec::len));
    let shift_down = Rc::clone(&shift);
    let (up, down, out) = (
        format!("Move {name} up"),
        format!("Move {name} down"),
        format!("Remove {name} from the dashboard"),
    );
    let group = format!("Arrange {name}");
    view! {
        div(class="tile-actions", role="group", aria-label=group) {
            button(r#type="button", class="tile-up icon-button", aria-label=up, title="Move up",
                disabled=first, on:click=move |_| shift(id, -1)) { "↑" }
            button(r#type="button", class="tile-down icon-button", aria-label=down,
                title="Move down", disabled=last, on:click=move |_| shift_down(id, 1)) { "↓" }
            button(r#type="button", class="tile-remove icon-button", aria-label=out,
                title="Remove from the dashboard", disabled=busy,
                on:click=move |_| remove(id)) { "×" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trends_tile_is_a_line_when_its_view_says_so() {
        let insight = |kind: InsightKind, view: &str| {
            let insight = serde_json::json!({
                "id": Uuid::from_u128(1), "project_id": Uuid::from_u128(2), "name": "Trends",
                "kind": kind, "view": view, "query": { "range": "7d", "params": "" },
                "updated_by": "", "updated_at": "2026-11-04T12:00:00Z",
            });
            serde_json::from_value::<InsightView>(insight).expect("an insight")
        };
        assert!(drawn_as_line(&insight(
            InsightKind::Trends,
            "tab=overview&chart=line"
        )));
        assert!(!drawn_as_line(&insight(
            InsightKind::Trends,
            "tab=overview"
        )));
        assert!(!drawn_as_line(&insight(InsightKind::Top, "chart=line")));
    }
}
