//! The project's saved insights, by name: what each shows, on how many dashboards, when it
//! changed; each opens in Analytics, and analysts and admins rename it in place or delete it
//! (asked first: it leaves every dashboard).

use std::rc::Rc;

use contract::auth::{InsightRequest, InsightView};
use sycamore::prelude::*;

use super::rename::Renaming;
use super::state::Boards;
use crate::analytics::insight::about;
use crate::analytics::load::Load;
use crate::api;
use crate::confirm::{Ask, Confirm};
use crate::route::{Route, Router};

#[component]
pub(crate) fn InsightsList() -> View {
    let boards = use_context::<Boards>();
    let router = use_context::<Router>();
    let shown = create_memo(move || boards.insight_list());
    let status = move || match boards.insights.state.get_clone() {
        Load::Loading => view! { p(class="status", role="status") { "Loading the insights…" } },
        Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
        Load::Ready(list) if list.insights.is_empty() => view! {
            p(id="no-insights", class="status") { "No saved insights yet." }
        },
        Load::Idle | Load::Ready(_) => view! {},
    };
    let analytics = move || format!("project={}", boards.project.get_clone());
    let to_analytics = move |event: web_sys::MouseEvent| {
        event.prevent_default();
        router.open(Route::Analytics, &analytics());
    };
    view! {
        section(id="insights", class="card insights", aria-labelledby="insights-title") {
            h3(id="insights-title") { "Saved insights" }
            p(class="hint") {
                "Save one in "
                a(href=move || format!("/analytics?{}", analytics()), on:click=to_analytics) { "Analytics" }
                " with the “Save insight” button beside a chart, a table, a funnel or a retention "
                "grid, then put it on a dashboard. Open a dashboard, or create one, on the left."
            }
            (status)
            div(class="wide-table", hidden=move || shown.with(Vec::is_empty)) {
                table(id="insight-list", class="insight-table", aria-labelledby="insights-title") {
                    thead { tr {
                        th(scope="col") { "Name" }
                        th(scope="col") { "Shows" }
                        th(scope="col", class="numeric") { "Dashboards" }
                        th(scope="col") { "Changed" }
                        th(scope="col") { span(class="visually-hidden") { "Actions" } }
                    } }
                    tbody {
                        Keyed(
                            list=shown,
                            view=move |insight| view! { InsightRow(insight=insight) },
                            key=|insight: &InsightView| (insight.id, insight.updated_at),
                        )
                    }
                }
            }
        }
    }
}

/// How many of the project's dashboards show the insight `id` (tracked).
fn dashboards_with(boards: Boards, id: uuid::Uuid) -> usize {
    boards.dashboards.state.with(|state| match state {
        Load::Ready(list) => list
            .dashboards
            .iter()
            .filter(|d| d.insight_ids.contains(&id))
            .count(),
        _ => 0,
    })
}

#[component(inline_props)]
fn InsightRow(insight: InsightView) -> View {
    let boards = use_context::<Boards>();
    let router = use_context::<Router>();
    let confirm = use_context::<Confirm>();
    let renaming = Renaming::new(boards.session, "insight", insight.id);
    let insight = Rc::new(insight);
    let id = insight.id;
    let url = boards.analytics_url(&insight);
    let search = url.trim_start_matches("/analytics?").to_owned();
    let name = insight.name.clone();
    let open = move |event: web_sys::MouseEvent| {
        event.prevent_default();
        router.open(Route::Analytics, &search);
    };
    let title = {
        let insight = Rc::clone(&insight);
        move || {
            if renaming.editing.get() {
                let label = format!("New name of {}", insight.name);
                let insight = Rc::clone(&insight);
                let save = move |name: String| rename(boards, renaming, &insight, name);
                renaming.form(label, save)
            } else {
                let (url, name, open) = (url.clone(), name.clone(), open.clone());
                view! { a(class="insight-name", href=url, on:click=open) { (name) } }
            }
        }
    };
    let on_boards = move || dashboards_with(boards, id).to_string();
    let at = insight.updated_at;
    let changed = crate::format::date_label(at.year(), u8::from(at.month()), at.day());
    let by = insight.updated_by.clone();
    let buttons = {
        let insight = Rc::clone(&insight);
        move || {
            boards.can_write.get().then(|| {
                let (start, asked) = (insight.name.clone(), insight.name.clone());
                let rename_label = format!("Rename {start}");
                let delete_label = format!("Delete {asked}");
                let busy = renaming.calls.busy;
                let start_id = renaming.start_id();
                view! {
                    button(id=start_id, r#type="button", class="link-button insight-rename",
                        aria-label=rename_label, disabled=busy,
                        on:click=move |_| renaming.start(&start)) { "Rename" }
                    button(r#type="button", class="link-button insight-delete",
                        aria-label=delete_label, disabled=busy,
                        on:click=move |_| ask_delete(boards, renaming, confirm, id, &asked)) { "Delete" }
                }
            })
        }
    };
    view! {
        tr(data-insight=id.to_string()) {
            td { (title) (renaming.error_view()) }
            td(class="muted") { (about(insight.kind, &insight.query)) }
            td(class="numeric") { (on_boards) }
            td(class="muted") { (changed) " " span(class="insight-by") { (by) } }
            td(class="insight-actions") { (buttons) }
        }
    }
}

/// `PUT …/insights/{id}`: the same insight under `name`.
fn rename(boards: Boards, renaming: Renaming, insight: &InsightView, name: String) {
    let request = InsightRequest {
        name,
        kind: insight.kind,
        view: insight.view.clone(),
        query: insight.query.clone(),
    };
    renaming.calls.run(
        boards.path(&format!("insights/{}", insight.id)),
        move |path, token| {
            let request = request.clone();
            async move { api::send::<_, InsightView>("PUT", &path, &request, &token).await }
        },
        move |saved| {
            renaming.stop();
            boards.keep_insight(saved);
        },
        || {},
    );
}

/// Asks, then `DELETE …/insights/{id}`.
fn ask_delete(boards: Boards, renaming: Renaming, confirm: Confirm, id: uuid::Uuid, name: &str) {
    let on = dashboards_with(boards, id);
    let message = match on {
        0 => format!("“{name}” will be deleted for everyone."),
        1 => format!("“{name}” will be deleted for everyone, and leave the dashboard it is on."),
        n => {
            format!("“{name}” will be deleted for everyone, and leave the {n} dashboards it is on.")
        }
    };
    confirm.ask(Ask {
        title: "Delete this insight?".to_owned(),
        message,
        confirm: "Delete insight".to_owned(),
        on_confirm: Rc::new(move || {
            renaming.calls.run(
                boards.path(&format!("insights/{id}")),
                |path, token| async move {
                    api::send_without_answer::<()>("DELETE", &path, None, &token).await
                },
                move |()| boards.forget_insight(id),
                || {},
            );
        }),
    });
}
