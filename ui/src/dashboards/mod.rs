//! Dashboards (`/dashboards`): a project's saved insights, arranged on named dashboards whose
//! tiles draw live from each insight's query, as the Analytics page draws it, and shared
//! read-only by link. Every member reads them; the project's analysts and admins change them.
//! The address names the project and the open dashboard, so a reload or a link opens the same.
//! (The demo shop's page is [`crate::dashboard`].)

mod board;
mod insights;
mod list;
mod rename;
mod share;
mod state;
mod tile;

use sycamore::prelude::*;

use self::board::Board;
use self::insights::InsightsList;
use self::list::BoardList;
use self::state::{Boards, address};
use crate::analytics::load::Load;
use crate::analytics::toolbar::{load_project_list, project_select};
use crate::confirm::{Confirm, ConfirmDialog};
use crate::route::{history, location_search};
use crate::session::Session;

#[allow(non_snake_case)]
pub(crate) fn DashboardsPage() -> View {
    let boards = Boards::new(use_context::<Session>(), &location_search());
    provide_context(boards);
    provide_context(Confirm::new());
    on_mount(move || {
        let project = boards.project;
        load_project_list(
            boards.session,
            boards.projects,
            move || project.get_clone_untracked(),
            move |first| project.set(first),
        );
        boards.follow_the_project();
        follow_the_address(boards);
    });
    let no_projects = create_selector(move || {
        boards
            .projects
            .with(|p| matches!(p, Load::Ready(list) if list.is_empty()))
    });
    let problem = move || match boards.projects.get_clone() {
        Load::Failed(message) => Some(view! {
            p(class="form-error", role="alert") { "Could not list the projects: " (message) }
        }),
        _ => None,
    };
    let switcher = project_select(
        boards.projects,
        move || boards.project.get_clone(),
        move |id| boards.choose_project(id),
    );
    view! {
        section(id="dashboards-page", class="analytics dashboards", aria-labelledby="page-title") {
            div(class="analytics-head") {
                h2(id="page-title") { "Dashboards" }
                div(class="toolbar", hidden=move || no_projects.get()) { (switcher) }
            }
            (problem)
            (move || if no_projects.get() {
                view! {
                    p(id="no-projects", class="status", role="status") {
                        "You are not a member of any project yet. Ask a project admin to add you."
                    }
                }
            } else {
                view! { Contents {} }
            })
            ConfirmDialog {}
        }
    }
}

/// The project's dashboards beside the open one, or beside its insights.
#[component]
fn Contents() -> View {
    let boards = use_context::<Boards>();
    let main = move || match boards.open.get() {
        Some(id) => view! { Board(id=id) },
        None => view! { InsightsList {} },
    };
    view! {
        div(class="boards-layout") {
            BoardList {}
            div(class="boards-main") { (main) }
        }
    }
}

/// Keeps the address in step with the page: a new history entry when another dashboard opens
/// (so the back button goes back to the one before), the same one when only the project was
/// filled in. The back button reopens the page from the address.
fn follow_the_address(boards: Boards) {
    let mut last_open = None;
    create_effect(move || {
        let open = boards.open.get();
        let search = boards.project.with(|project| address(project, open));
        let url = if search.is_empty() {
            "/dashboards".to_owned()
        } else {
            format!("/dashboards?{search}")
        };
        if format!("/dashboards{}", location_search()) != url {
            let replace = last_open.is_none_or(|last| last == open);
            history(&url, replace);
        }
        last_open = Some(open);
    });
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use contract::auth::{Role, UserView};

    use crate::route::Route;
    use crate::session::{Auth, SignedIn};

    #[test]
    fn the_page_has_its_title_project_switcher_and_dashboards() {
        let html = sycamore::web::render_to_string(|| {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "ada@example.com",
                "name": "Ada",
                "role": Role::User,
            });
            let user: UserView = serde_json::from_value(user).expect("a user view");
            let session =
                crate::session::Session::new(Auth::SignedIn(SignedIn::new(user, "t".to_owned())));
            crate::shell(Route::Dashboards, session)
        });
        for id in [
            "dashboards-page",
            "project-switcher",
            "dashboard-list",
            "insights",
            "nav-dashboards",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}: {html}");
        }
        assert!(html.contains("for=\"project-switcher\""), "{html}");
    }
}
