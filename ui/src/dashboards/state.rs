//! What the dashboards page holds: the caller's projects, the project and dashboard the
//! address names, and that project's dashboards and insights as last read, changed in place by
//! the answers of the calls that change them.

use contract::auth::{DashboardList, DashboardView, InsightList, InsightView, ProjectSummary};
use sycamore::prelude::*;
use uuid::Uuid;

use crate::analytics::load::{Load, Loader};
use crate::analytics::toolbar::may_write;
use crate::session::Session;

/// The page's state, shared through the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Boards {
    pub(crate) session: Session,
    pub(crate) projects: Signal<Load<Vec<ProjectSummary>>>,
    /// The project shown: its id, empty until the project list chose one.
    pub(crate) project: Signal<String>,
    /// The dashboard open; none shows the project's insights.
    pub(crate) open: Signal<Option<Uuid>>,
    pub(crate) dashboards: Loader<DashboardList>,
    pub(crate) insights: Loader<InsightList>,
    /// Whether the caller is an analyst or an admin of the project: they change what viewers
    /// only read.
    pub(crate) can_write: ReadSignal<bool>,
}

/// The project and dashboard a query string (`?project=…&dashboard=…`) names.
pub(crate) fn read_address(search: &str) -> (String, Option<Uuid>) {
    let mut project = String::new();
    let mut open = None;
    for (name, value) in crate::api::query_pairs(search) {
        match name.as_str() {
            "project" if value.parse::<Uuid>().is_ok() => project = value,
            "dashboard" => open = value.parse().ok(),
            _ => {}
        }
    }
    (project, open)
}

/// The query string of the dashboards page showing `project` and `open`.
pub(crate) fn address(project: &str, open: Option<Uuid>) -> String {
    match open {
        Some(board) => format!("project={project}&dashboard={board}"),
        None if project.is_empty() => String::new(),
        None => format!("project={project}"),
    }
}

impl Boards {
    /// The page as the query string `search` opens it.
    pub(crate) fn new(session: Session, search: &str) -> Self {
        let (project, open) = read_address(search);
        let projects = create_signal(Load::Loading);
        let project = create_signal(project);
        let can_write = create_memo(move || {
            project
                .with(|p| p.parse::<Uuid>().ok())
                .is_some_and(|p| projects.with(|list| may_write(list, p)))
        });
        Self {
            session,
            projects,
            project,
            open: create_signal(open),
            dashboards: Loader::new(),
            insights: Loader::new(),
            can_write,
        }
    }

    /// Reads the project's dashboards and insights whenever another project is shown.
    pub(crate) fn follow_the_project(self) {
        create_effect(move || {
            let project = self.project.get_clone();
            if project.parse::<Uuid>().is_err() {
                return;
            }
            let base = format!("/api/projects/{project}");
            self.dashboards
                .get(self.session, format!("{base}/dashboards"));
            self.insights.get(self.session, format!("{base}/insights"));
        });
    }

    /// Shows `project`, its insights first.
    pub(crate) fn choose_project(self, project: String) {
        if self.project.get_clone_untracked() != project {
            self.open.set(None);
            self.project.set(project);
        }
    }

    /// `/api/projects/{project}/{rest}`.
    pub(crate) fn path(self, rest: &str) -> String {
        format!(
            "/api/projects/{}/{rest}",
            self.project.get_clone_untracked()
        )
    }

    /// The Analytics page's address showing the insight `insight`.
    pub(crate) fn analytics_url(self, insight: &InsightView) -> String {
        format!("/analytics?project={}&{}", insight.project_id, insight.view)
    }

    /// The dashboard `id` as last read (tracked).
    pub(crate) fn board(self, id: Uuid) -> Option<DashboardView> {
        self.dashboards.state.with(|state| match state {
            Load::Ready(list) => list.dashboards.iter().find(|d| d.id == id).cloned(),
            _ => None,
        })
    }

    /// The project's insights as last read, by name (tracked); none while they load.
    pub(crate) fn insight_list(self) -> Vec<InsightView> {
        self.insights.state.with(|state| match state {
            Load::Ready(list) => list.insights.clone(),
            _ => Vec::new(),
        })
    }

    /// The dashboard as a call answered it: put in the list in place of its old self, or added
    /// (the list stays by name).
    pub(crate) fn keep_board(self, board: DashboardView) {
        self.dashboards.state.update(|state| {
            if let Load::Ready(list) = state {
                list.dashboards.retain(|d| d.id != board.id);
                list.dashboards.push(board);
                list.dashboards
                    .sort_by_key(|d| (d.name.to_lowercase(), d.id));
            }
        });
    }

    /// The dashboard `id` deleted: out of the list, and closed.
    pub(crate) fn forget_board(self, id: Uuid) {
        self.dashboards.state.update(|state| {
            if let Load::Ready(list) = state {
                list.dashboards.retain(|d| d.id != id);
            }
        });
        if self.open.get_untracked() == Some(id) {
            self.open.set(None);
        }
    }

    /// The insight as a call answered it, in place of its old self.
    pub(crate) fn keep_insight(self, insight: InsightView) {
        self.insights.state.update(|state| {
            if let Load::Ready(list) = state {
                list.insights.retain(|i| i.id != insight.id);
                list.insights.push(insight);
                list.insights.sort_by_key(|i| (i.name.to_lowercase(), i.id));
            }
        });
    }

    /// The insight `id` deleted: out of the list, and of every dashboard, as auth leaves it out
    /// of them (read again to be sure).
    pub(crate) fn forget_insight(self, id: Uuid) {
        self.insights.state.update(|state| {
            if let Load::Ready(list) = state {
                list.insights.retain(|i| i.id != id);
            }
        });
        self.dashboards.state.update(|state| {
            if let Load::Ready(list) = state {
                for board in &mut list.dashboards {
                    board.insight_ids.retain(|i| *i != id);
                }
            }
        });
        self.dashboards.refresh(self.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_names_the_project_and_the_open_dashboard() {
        let (project, board) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let search = format!("?project={project}&dashboard={board}");
        assert_eq!(read_address(&search), (project.to_string(), Some(board)));
        assert_eq!(
            address(&project.to_string(), Some(board)),
            search.trim_start_matches('?')
        );
        assert_eq!(
            read_address("project=nope&dashboard=nope"),
            (String::new(), None)
        );
        assert_eq!(
            address(&project.to_string(), None),
            format!("project={project}")
        );
        assert_eq!(address("", None), "");
    }
}
