//! The side list of the dashboards page: the project's saved insights and its dashboards, each
//! a link that opens it in place, and for analysts and admins the form creating a dashboard.

use contract::auth::{DashboardRequest, DashboardView, MAX_NAME_CHARS};
use sycamore::prelude::*;
use uuid::Uuid;

use super::state::{Boards, address};
use crate::analytics::load::Load;
use crate::api;
use crate::busy::Busy;

/// A link to the dashboard `target` (or, for none, the insights) of the project shown: a real
/// address, opened in place on a plain click.
pub(crate) fn board_link(
    boards: Boards,
    target: Option<Uuid>,
    id: Option<String>,
    class: &'static str,
    children: View,
) -> View {
    let href = move || {
        let search = boards.project.with(|project| address(project, target));
        format!("/dashboards?{search}")
    };
    let current = move || (boards.open.get() == target).then_some("page");
    view! {
        a(id=id, class=class, href=href, aria-current=current,
            on:click=move |event: web_sys::MouseEvent| {
                let modified = event.ctrl_key() || event.meta_key() || event.shift_key()
                    || event.alt_key() || event.button() != 0;
                if !modified {
                    event.prevent_default();
                    boards.open.set(target);
                }
            }) { (children) }
    }
}

#[component]
pub(crate) fn BoardList() -> View {
    let boards = use_context::<Boards>();
    let shown = create_memo(move || {
        boards.dashboards.state.with(|state| match state {
            Load::Ready(list) => list.dashboards.clone(),
            _ => Vec::new(),
        })
    });
    let status = move || match boards.dashboards.state.get_clone() {
        Load::Loading => view! { p(class="status", role="status") { "Loading the dashboards…" } },
        Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
        Load::Ready(list) if list.dashboards.is_empty() => view! {
            p(id="no-dashboards", class="status") { "No dashboards yet." }
        },
        Load::Idle | Load::Ready(_) => view! {},
    };
    let insights = move || {
        let count = boards.insights.state.with(|state| match state {
            Load::Ready(list) => format!(" ({})", list.insights.len()),
            _ => String::new(),
        });
        view! { "Saved insights" span(class="muted") { (count) } }
    };
    let insights_link = board_link(
        boards,
        None,
        Some("insights-link".to_owned()),
        "board-link",
        view! { (insights) },
    );
    view! {
        nav(class="card boards-nav", aria-label="Dashboards of the project") {
            p(class="boards-insights") { (insights_link) }
            h3(id="dashboards-title") { "Dashboards" }
            (status)
            ul(id="dashboard-list", class="board-list", aria-labelledby="dashboards-title") {
                Keyed(
                    list=shown,
                    view=move |board| list_entry(boards, &board),
                    key=|board: &DashboardView| (board.id, board.name.clone(), board.insight_ids.len()),
                )
            }
            (move || boards.can_write.get().then(|| view! { CreateBoard {} }))
        }
    }
}

/// A dashboard of the list: its name and how many tiles it has.
fn list_entry(boards: Boards, board: &DashboardView) -> View {
    let tiles = match board.insight_ids.len() {
        1 => "1 tile".to_owned(),
        n => format!("{n} tiles"),
    };
    let name = board.name.clone();
    let shown = view! {
        span(class="board-name") { (name) }
        span(class="board-count muted") { (tiles) }
    };
    let link = board_link(boards, Some(board.id), None, "board-link", shown);
    let id = board.id.to_string();
    view! {
        li(data-dashboard=id) { (link) }
    }
}

/// The form creating a dashboard by name, which then opens (empty).
#[component]
fn CreateBoard() -> View {
    let boards = use_context::<Boards>();
    let name = create_signal(String::new());
    let calls = Busy::new(boards.session);
    let Busy { busy, error, .. } = calls;
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let request = DashboardRequest {
            name: name.get_clone_untracked().trim().to_owned(),
            insight_ids: Vec::new(),
        };
        if request.name.is_empty() {
            return error.set(Some("Name the dashboard".to_owned()));
        }
        calls.run(
            boards.path("dashboards"),
            move |path, token| {
                let request = request.clone();
                async move { api::send::<_, DashboardView>("POST", &path, &request, &token).await }
            },
            move |created| {
                if name.is_alive() {
                    name.set(String::new());
                }
                let id = created.id;
                boards.keep_board(created);
                boards.open.set(Some(id));
            },
            || {},
        );
    };
    view! {
        form(id="dashboard-create", class="board-create", on:submit=submit,
            aria-busy=move || busy.get().to_string()) {
            label(r#for="dashboard-name") { "New dashboard" }
            div(class="inline-field") {
                input(id="dashboard-name", r#type="text", required=true, autocomplete="off",
                    maxlength=MAX_NAME_CHARS.to_string(), placeholder="Marketing",
                    bind:value=name)
                button(id="dashboard-create-submit", r#type="submit", disabled=busy) {
                    (move || if busy.get() { "Creating…" } else { "Create" })
                }
            }
            (move || error.get_clone().map(|message| view! {
                p(id="dashboard-create-error", class="form-error", role="alert") { (message) }
            }))
        }
    }
}
