//! The projects the user is a member of, with their role on each (`/api/auth/projects`): the
//! key form offers them, the keys table names them, and those they administer are managed here.

use contract::auth::{ProjectSummaries, ProjectSummary};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::api::{self, Action};
use crate::session::Session;

/// The user's projects as last read: `None` while the first read runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MyProjects {
    pub(crate) list: Signal<Option<Vec<ProjectSummary>>>,
    pub(crate) error: Signal<Option<String>>,
}

impl MyProjects {
    pub(crate) fn new() -> Self {
        Self {
            list: create_signal(None),
            error: create_signal(None),
        }
    }

    /// `GET /api/auth/projects`.
    pub(crate) fn load(self, session: Session) {
        spawn_local(async move {
            let answer = session
                .authorized(|token| async move {
                    api::get::<ProjectSummaries>("/api/auth/projects", &token).await
                })
                .await;
            if !self.list.is_alive() {
                return;
            }
            match answer {
                Ok(list) => {
                    self.error.set(None);
                    self.list.set(Some(list.projects));
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }
}
