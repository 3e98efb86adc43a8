//! The users tab's list as last loaded: the page and search it was loaded for, how the last
//! load went, and the password-reset link made last.

use contract::auth::{AdminUserView, PasswordResetLink, UserPage};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use crate::api::{self, Action};
use crate::format::{has_next_page, page_label};
use crate::session::Session;

/// The list as last loaded, and how the last load went.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Users {
    pub(crate) page: Signal<u32>,
    pub(crate) query: Signal<String>,
    pub(crate) loaded: Signal<Option<UserPage>>,
    pub(crate) loading: Signal<bool>,
    pub(crate) error: Signal<Option<String>>,
    /// The password-reset link made last, shown until put away (auth shows it only once).
    pub(crate) issued: Signal<Option<IssuedReset>>,
    /// Bumped by every load, so an answer that comes after a newer request is dropped.
    generation: Signal<u64>,
}

/// A password-reset link and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct IssuedReset {
    pub(crate) email: String,
    pub(crate) link: PasswordResetLink,
}

impl Users {
    /// The first page of everyone, its load under way.
    pub(crate) fn new() -> Self {
        Self {
            page: create_signal(1),
            query: create_signal(String::new()),
            loaded: create_signal(None),
            loading: create_signal(true),
            error: create_signal(None),
            issued: create_signal(None),
            generation: create_signal(0),
        }
    }

    pub(crate) fn load(self, session: Session) {
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        let page = self.page.get_untracked().to_string();
        let query = self.query.get_clone_untracked();
        let path = api::with_query("/api/admin/users", &[("page", &page), ("q", query.trim())]);
        self.loading.set(true);
        spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::get::<UserPage>(&path, &token).await }
                })
                .await;
            if !self.loading.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.loading.set(false);
            match answer {
                Ok(page) => {
                    self.error.set(None);
                    self.loaded.set(Some(page));
                }
                Err(err) => self.error.set(Some(api::explain(&err, Action::Work))),
            }
        });
    }

    pub(crate) fn replace(self, user: AdminUserView) {
        self.loaded.update(|page| {
            if let Some(found) = page
                .as_mut()
                .and_then(|page| page.users.iter_mut().find(|u| u.id == user.id))
            {
                *found = user;
            }
        });
    }

    /// The user `id` leaves the list (and its total).
    pub(crate) fn remove(self, id: Uuid) {
        if self.loaded.is_alive() {
            self.loaded.update(|page| {
                if let Some(page) = page.as_mut() {
                    page.users.retain(|u| u.id != id);
                    page.total = page.total.saturating_sub(1);
                }
            });
        }
    }

    /// Which users of how many the page shows; nothing before the first answer.
    pub(crate) fn label(self) -> String {
        self.loaded.with(|page| {
            page.as_ref().map_or_else(String::new, |page| {
                page_label(
                    page.page,
                    page.per_page,
                    page.users.len(),
                    page.total,
                    "users",
                )
            })
        })
    }

    pub(crate) fn has_next(self) -> bool {
        self.loaded.with(|page| {
            page.as_ref()
                .is_some_and(|page| has_next_page(page.page, page.per_page, page.total))
        })
    }
}
