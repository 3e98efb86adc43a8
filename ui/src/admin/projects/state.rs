//! The projects as the tab last loaded them, and the write key the snippets are written for.

use contract::auth::{ProjectList, ProjectView};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use crate::api::{self, Action};
use crate::session::Session;

/// The projects as last loaded, and the key the snippets are written for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Projects {
    pub(crate) list: Signal<Option<Vec<ProjectView>>>,
    pub(crate) loading: Signal<bool>,
    pub(crate) error: Signal<Option<String>>,
    /// The write key (its text) the snippets show.
    pub(crate) chosen: Signal<Option<String>>,
    /// Bumped by each load: an answer to an older one is not shown over a newer one's.
    generation: Signal<u64>,
}

impl Projects {
    /// Nothing loaded yet, the first load under way.
    pub(crate) fn new() -> Self {
        Self {
            list: create_signal(None),
            loading: create_signal(true),
            error: create_signal(None),
            chosen: create_signal(None),
            generation: create_signal(0),
        }
    }

    pub(crate) fn load(self, session: Session, then_choose: Option<String>) {
        self.loading.set(true);
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        spawn_local(async move {
            let answer = session
                .authorized(|token| async move {
                    api::get::<ProjectList>("/api/admin/projects", &token).await
                })
                .await;
            if !self.loading.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.loading.set(false);
            match answer {
                Ok(list) => {
                    self.error.set(None);
                    self.list.set(Some(list.projects));
                    if then_choose.is_some() {
                        self.chosen.set(then_choose);
                    }
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    pub(crate) fn change(self, id: Uuid, change: impl FnOnce(&mut ProjectView)) {
        self.list.update(|list| {
            if let Some(project) = list.iter_mut().flatten().find(|p| p.id == id) {
                change(project);
            }
        });
    }

    /// The chosen key with its project, or the first key of any project.
    pub(crate) fn target(self) -> Option<(ProjectView, String)> {
        let chosen = self.chosen.get_clone();
        self.list.with(|list| {
            let projects = list.as_deref().unwrap_or_default();
            chosen
                .and_then(|key| {
                    projects
                        .iter()
                        .find(|p| p.keys.iter().any(|k| k.key == key))
                        .map(|p| (p.clone(), key))
                })
                .or_else(|| {
                    projects
                        .iter()
                        .find_map(|p| p.keys.first().map(|k| (p.clone(), k.key.clone())))
                })
        })
    }
}
