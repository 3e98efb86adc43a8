//! Analytics, for every signed-in user on the projects they are a member of (every project for
//! an instance admin): a project's overview and trends, places and acquisition, funnels,
//! retention, the live feed, the event explorer and the persons. The address holds the whole
//! view (see [`url`]).

mod acquisition;
pub(crate) mod annotations;
mod charts;
pub(crate) mod dates;
mod explorer;
mod feed;
mod filters;
mod funnel;
pub(crate) mod insight;
mod live;
pub(crate) mod load;
mod overview;
mod page;
mod pager;
mod persons;
mod places;
mod retention;
mod save;
mod sync;
mod tabs;
pub(crate) mod toolbar;
mod top;
mod trend_chart;
mod trends;
mod url;

use sycamore::prelude::*;

use self::filters::Filters;
use self::load::{Load, Loader};
use self::page::{Page, today};
use self::save::{SaveDialog, Saver};
use self::tabs::{Catalogue, Tabs};
use self::toolbar::{Toolbar, load_projects};
use self::url::{Tab, ViewState};
use crate::api;
use crate::confirm::{Confirm, ConfirmDialog};
use crate::session::Session;

#[allow(non_snake_case)]
pub(crate) fn AnalyticsPage() -> View {
    let session = use_context::<Session>();
    let view = create_signal(ViewState::decode(
        &crate::route::location_search(),
        &today(),
    ));
    let page = Page {
        session,
        tracker: use_context::<crate::tracker::Tracker>(),
        view,
        projects: create_signal(Load::Loading),
        catalog: Loader::new(),
        width: create_signal(800.0),
    };
    provide_context(page);
    provide_context(Confirm::new());
    provide_context(Saver::new());
    let section = create_node_ref();

    on_mount(move || {
        load_projects(page);
        sync::follow_the_address(page);
        sync::follow_the_width(page.width, section);
        let catalog = create_selector(move || {
            view.with(|v| {
                (!v.project.is_empty()).then(|| {
                    api::with_query(
                        "/api/query/catalog",
                        &[
                            ("project_id", &v.project),
                            ("from", &v.from),
                            ("to", &v.to),
                            ("include_bots", v.bots_param()),
                        ],
                    )
                })
            })
        });
        create_effect(move || {
            if let Some(path) = catalog.get_clone() {
                page.catalog.get(session, path);
            }
        });
    });

    // Figures are read only for a member: with no project there is nothing to ask for.
    let no_projects = create_selector(move || {
        page.projects
            .with(|p| matches!(p, Load::Ready(list) if list.is_empty()))
    });
    view! {
        section(id="analytics-page", class="analytics", aria-labelledby="page-title", r#ref=section) {
            div(class="analytics-head") {
                h2(id="page-title") { "Analytics" }
                (move || (!no_projects.get()).then(|| view! { Toolbar {} }))
            }
            (move || if no_projects.get() {
                view! {
                    p(id="no-projects", class="status", role="status") {
                        "You are not a member of any project yet. Ask a project admin to add you."
                    }
                }
            } else {
                view! { Figures {} }
            })
            ConfirmDialog {}
            SaveDialog {}
        }
    }
}

/// The filters, the tabs, the open tab's panel and the catalogue.
#[component]
fn Figures() -> View {
    let view = use_context::<Page>().view;
    let tab = create_selector(move || view.with(|v| v.tab));
    let panel = move || match tab.get() {
        Tab::Overview => view! { overview::OverviewTab {} },
        Tab::Places => view! { places::PlacesTab {} },
        Tab::Acquisition => view! { acquisition::AcquisitionTab {} },
        Tab::Persons => view! { persons::PersonsTab {} },
        Tab::Funnel => view! { funnel::FunnelTab {} },
        Tab::Retention => view! { retention::RetentionTab {} },
        Tab::Live => view! { live::LiveTab {} },
        Tab::Explorer => view! { explorer::ExplorerTab {} },
    };
    view! {
        Filters {}
        Tabs {}
        div(id=move || format!("panel-{}", tab.get().as_str()), class="tab-panel", role="tabpanel",
            aria-labelledby=move || format!("tab-{}", tab.get().as_str())) {
            (panel)
        }
        Catalogue {}
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use contract::auth::{Role, UserView};

    use crate::route::Route;
    use crate::session::{Auth, SignedIn};

    fn render() -> String {
        sycamore::web::render_to_string(|| {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "ada@example.com",
                "name": "Ada",
                "role": Role::User,
            });
            let user: UserView = serde_json::from_value(user).expect("a user view");
            let session =
                crate::session::Session::new(Auth::SignedIn(SignedIn::new(user, "t".to_owned())));
            crate::shell(Route::Analytics, session)
        })
    }

    #[test]
    fn the_page_has_its_controls_tabs_and_the_overview() {
        let html = render();
        for id in [
            "analytics-page",
            "project-switcher",
            "range-preset",
            "range-from",
            "range-to",
            "active-filters",
            "tab-overview",
            "tab-funnel",
            "tab-retention",
            "tab-live",
            "tab-explorer",
            "tab-places",
            "tab-acquisition",
            "tab-persons",
            "chart-tooltip",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}: {html}");
        }
        assert!(html.contains("role=\"tablist\""), "{html}");
        assert!(html.contains("aria-selected=\"true\""), "{html}");
        assert!(html.contains("for=\"range-preset\""), "{html}");
    }
}
