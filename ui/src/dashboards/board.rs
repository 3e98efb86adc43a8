//! An open dashboard: its name (renamed in place), its tiles in a responsive grid drawn live,
//! and for the project's analysts and admins adding a saved insight, moving and removing tiles
//! (each change a `PUT` of the whole ordered list), sharing it, and deleting it (asked first).

use std::rc::Rc;

use contract::auth::{DashboardRequest, DashboardView, InsightView, MAX_TILES};
use sycamore::prelude::*;
use uuid::Uuid;

use super::list::board_link;
use super::rename::Renaming;
use super::share::SharePanel;
use super::state::Boards;
use super::tile::{Tile, TileActions};
use crate::analytics::load::Load;
use crate::api;
use crate::browser::target_value;
use crate::busy::Busy;
use crate::confirm::{Ask, Confirm};

/// The open dashboard and the calls changing it.
#[derive(Debug, Clone, Copy)]
struct Open {
    boards: Boards,
    id: Uuid,
    board: ReadSignal<Option<DashboardView>>,
    calls: Busy,
}

impl Open {
    /// `PUT …/dashboards/{id}` with `name` and the tiles `tiles`, in order; the answer takes
    /// the old dashboard's place.
    fn save(self, name: String, tiles: Vec<Uuid>, done: impl FnOnce() + 'static) {
        let request = DashboardRequest {
            name,
            insight_ids: tiles,
        };
        let boards = self.boards;
        self.calls.run(
            boards.path(&format!("dashboards/{}", self.id)),
            move |path, token| {
                let request = request.clone();
                async move { api::send::<_, DashboardView>("PUT", &path, &request, &token).await }
            },
            move |saved| {
                boards.keep_board(saved);
                done();
            },
            || {},
        );
    }

    /// The tiles changed by `change`, saved under the same name.
    fn retile(self, change: impl FnOnce(&mut Vec<Uuid>)) {
        let Some(board) = self.board.get_clone_untracked() else {
            return;
        };
        let mut tiles = board.insight_ids.clone();
        change(&mut tiles);
        if tiles != board.insight_ids {
            self.save(board.name, tiles, || {});
        }
    }

    /// What the tiles' buttons do.
    fn actions(self, refreshed: ReadSignal<u32>) -> TileActions {
        let order = create_memo(move || {
            self.board.with(|b| {
                b.as_ref()
                    .map(|b| b.insight_ids.clone())
                    .unwrap_or_default()
            })
        });
        TileActions {
            order,
            shift: Rc::new(move |tile, by| {
                self.retile(|tiles| {
                    let Some(at) = tiles.iter().position(|t| *t == tile) else {
                        return;
                    };
                    if let Some(to) = at.checked_add_signed(by).filter(|to| *to < tiles.len()) {
                        tiles.swap(at, to);
                    }
                });
            }),
            remove: Rc::new(move |tile| self.retile(|tiles| tiles.retain(|t| *t != tile))),
            busy: self.calls.busy,
            refreshed,
        }
    }

    /// Asks, then `DELETE …/dashboards/{id}`: the page goes back to the insights.
    fn ask_delete(self, confirm: Confirm) {
        let Some(board) = self.board.get_clone_untracked() else {
            return;
        };
        let boards = self.boards;
        let id = self.id;
        let calls = self.calls;
        confirm.ask(Ask {
            title: "Delete this dashboard?".to_owned(),
            message: format!(
                "“{}” and its shared links end for everyone. Its insights stay saved.",
                board.name
            ),
            confirm: "Delete dashboard".to_owned(),
            on_confirm: Rc::new(move || {
                calls.run(
                    boards.path(&format!("dashboards/{id}")),
                    |path, token| async move {
                        api::send_without_answer::<()>("DELETE", &path, None, &token).await
                    },
                    move |()| boards.forget_board(id),
                    || {},
                );
            }),
        });
    }
}

#[component(inline_props)]
pub(crate) fn Board(id: Uuid) -> View {
    let boards = use_context::<Boards>();
    let open = Open {
        boards,
        id,
        board: create_memo(move || boards.board(id)),
        calls: Busy::new(boards.session),
    };
    let loaded = create_selector(move || {
        boards
            .dashboards
            .state
            .with(|state| matches!(state, Load::Ready(_)))
    });
    let exists = create_selector(move || open.board.with(Option::is_some));
    view! {
        (move || match (loaded.get(), exists.get()) {
            (false, _) => view! {
                p(class="status", role="status") { "Loading the dashboard…" }
            },
            (true, false) => view! {
                div(id="board-missing", class="card", role="alert") {
                    p { "This dashboard does not exist, or was deleted." }
                    p { (board_link(boards, None, None, "", view! { "See the project's insights" })) }
                }
            },
            (true, true) => view! { OpenBoard(open=open) },
        })
    }
}

#[component(inline_props)]
fn OpenBoard(open: Open) -> View {
    let boards = open.boards;
    let refreshed = create_signal(0_u32);
    let sharing = create_signal(false);
    let actions = open.actions(*refreshed);
    let tiles = create_memo(move || {
        let insights = boards.insight_list();
        open.board.with(|board| {
            board
                .iter()
                .flat_map(|b| b.insight_ids.iter())
                .filter_map(|id| insights.iter().find(|i| i.id == *id).cloned())
                .collect::<Vec<_>>()
        })
    });
    let empty = move || {
        tiles.with(Vec::is_empty).then(|| {
            view! {
                p(id="board-empty", class="status") {
                    (move || if boards.can_write.get() {
                        "No tiles yet: add a saved insight above."
                    } else {
                        "No tiles yet."
                    })
                }
            }
        })
    };
    view! {
        article(class="board", data-dashboard=open.id.to_string(), aria-labelledby="board-title") {
            BoardHead(open=open, refreshed=refreshed, sharing=sharing)
            (move || sharing.get().then(|| view! { SharePanel(board=open.id) }))
            (move || boards.can_write.get().then(|| view! { AddTile(open=open) }))
            (empty)
            ul(id="tiles", class="tiles") {
                Keyed(
                    list=tiles,
                    view=move |insight| {
                        let actions = actions.clone();
                        view! { Tile(insight=insight, actions=actions) }
                    },
                    key=|insight: &InsightView| (insight.id, insight.updated_at),
                )
            }
        }
    }
}

/// The name (or its rename form), when it changed last and by whom, and the dashboard's
/// buttons.
#[component(inline_props)]
fn BoardHead(open: Open, refreshed: Signal<u32>, sharing: Signal<bool>) -> View {
    let boards = open.boards;
    let confirm = use_context::<Confirm>();
    let renaming = Renaming::new(boards.session, "dashboard", open.id);
    // The rename's call shows its failure beside its form.
    let renamer = Open {
        calls: renaming.calls,
        ..open
    };
    let name = move || {
        open.board
            .with(|b| b.as_ref().map(|b| b.name.clone()).unwrap_or_default())
    };
    let title = move || {
        if renaming.editing.get() {
            let save = move |name: String| {
                let tiles = open.board.with_untracked(|b| {
                    b.as_ref()
                        .map(|b| b.insight_ids.clone())
                        .unwrap_or_default()
                });
                renamer.save(name, tiles, move || renaming.stop());
            };
            renaming.form("Dashboard name".to_owned(), save)
        } else {
            view! { h3(id="board-title") { (name) } }
        }
    };
    let changed = move || {
        open.board
            .with(|b| {
                b.as_ref().map(|b| {
                    let at = b.updated_at;
                    let date = crate::format::date_label(at.year(), u8::from(at.month()), at.day());
                    match b.updated_by.as_str() {
                        "" => format!("Changed {date}"),
                        by => format!("Changed {date} by {by}"),
                    }
                })
            })
            .unwrap_or_default()
    };
    let writer_buttons =
        move || {
            boards.can_write.get().then(|| view! {
        button(id=renaming.start_id(), r#type="button", disabled=open.calls.busy,
            on:click=move |_| renaming.start(&name())) { "Rename" }
        button(id="board-share", r#type="button", aria-controls="share-panel",
            aria-expanded=move || sharing.get().to_string(),
            on:click=move |_| sharing.update(|s| *s = !*s)) { "Share" }
        button(id="board-delete", r#type="button", class="danger", disabled=open.calls.busy,
            on:click=move |_| open.ask_delete(confirm)) { "Delete" }
    })
        };
    let error = open.calls.error;
    view! {
        div(class="board-head") {
            div(class="board-titles") {
                (title)
                p(class="hint board-changed") { (changed) }
            }
            div(class="board-actions") {
                button(id="board-refresh", r#type="button", aria-label="Refresh every tile",
                    on:click=move |_| refreshed.update(|n| *n += 1)) { "Refresh" }
                (writer_buttons)
            }
        }
        (renaming.error_view())
        (move || error.get_clone().map(|message| view! {
            p(id="board-error", class="form-error", role="alert") { (message) }
        }))
    }
}

/// The form adding one of the project's insights not on the dashboard yet, at its end.
#[component(inline_props)]
fn AddTile(open: Open) -> View {
    let boards = open.boards;
    let chosen = create_signal(String::new());
    let offered = create_memo(move || {
        let on_board = open.board.with(|b| {
            b.as_ref()
                .map(|b| b.insight_ids.clone())
                .unwrap_or_default()
        });
        boards
            .insight_list()
            .into_iter()
            .filter(|insight| !on_board.contains(&insight.id))
            .collect::<Vec<_>>()
    });
    let full = create_selector(move || {
        open.board
            .with(|b| b.as_ref().is_some_and(|b| b.insight_ids.len() >= MAX_TILES))
    });
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let wanted = chosen
            .get_clone_untracked()
            .parse::<Uuid>()
            .ok()
            .or_else(|| offered.with_untracked(|o| o.first().map(|insight| insight.id)));
        if let Some(wanted) = wanted {
            open.retile(|tiles| tiles.push(wanted));
            chosen.set(String::new());
        }
    };
    let options = move || offered.get_clone().iter().map(option).collect::<Vec<_>>();
    let nothing = create_selector(move || offered.with(Vec::is_empty));
    let none_saved = create_selector(move || {
        boards
            .insights
            .state
            .with(|state| matches!(state, Load::Ready(list) if list.insights.is_empty()))
    });
    let form = move || {
        view! {
            form(id="tile-add", class="tile-add", on:submit=submit) {
                div(class="control") {
                    label(r#for="tile-insight") { "Add a saved insight" }
                    select(id="tile-insight", disabled=full,
                        on:change=move |event: web_sys::Event| chosen.set(target_value(&event))) {
                        (options)
                    }
                }
                button(id="tile-add-submit", r#type="submit",
                    disabled=move || full.get() || open.calls.busy.get()) {
                    "Add to dashboard"
                }
                (move || full.get().then(|| view! {
                    p(class="hint") { (format!("A dashboard holds {MAX_TILES} tiles at most.")) }
                }))
            }
        }
    };
    view! {
        (move || if nothing.get() { nothing_to_add(none_saved.get()) } else { form() })
    }
}

/// An insight offered by the Add form: its name and what it shows.
fn option(insight: &InsightView) -> View {
    let label = format!(
        "{} ({})",
        insight.name,
        crate::analytics::insight::about(insight.kind, &insight.query)
    );
    let id = insight.id.to_string();
    view! { option(value=id) { (label) } }
}

/// In place of the Add form when there is nothing to add: where insights come from.
fn nothing_to_add(none_saved: bool) -> View {
    let said = if none_saved {
        "No saved insights yet: save one in Analytics with the “Save insight” button beside a \
         chart, a table, a funnel or a retention grid, then add it here."
    } else {
        "Every saved insight is on this dashboard. Save more in Analytics with the “Save \
         insight” button beside a chart, a table, a funnel or a retention grid."
    };
    view! { p(id="tile-add-none", class="hint") { (said) } }
}
