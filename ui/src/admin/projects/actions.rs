//! What a project's card changes: issuing and revoking write keys (a revoke asks first) and
//! saving its Plausible domains.

use std::future::Future;
use std::rc::Rc;

use contract::auth::{ProjectDomains, SetDomainsRequest, WriteKeyView};
use sycamore::prelude::*;
use uuid::Uuid;

use super::state::Projects;
use crate::api::{self, ApiError};
use crate::busy::Busy;
use crate::confirm::{Ask, Confirm};

/// The card of project `id`: its calls, whether one runs and how the last one failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CardActions {
    pub(crate) id: Uuid,
    pub(crate) confirm: Confirm,
    pub(crate) projects: Projects,
    pub(crate) calls: Busy,
}

impl CardActions {
    /// Runs `call` with `path`: `done` takes its answer while the list lives.
    fn run<T: 'static, Fut>(
        self,
        path: String,
        call: impl Fn(String, String) -> Fut + 'static,
        done: impl FnOnce(T) + 'static,
    ) where
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let list = self.projects.list;
        let done = move |answer| {
            if list.is_alive() {
                done(answer);
            }
        };
        self.calls.run(path, call, done, || {});
    }

    /// `POST …/keys`: the new key joins the card and the snippets are written for it.
    pub(crate) fn issue_key(self) {
        let CardActions { id, projects, .. } = self;
        self.run(
            format!("/api/admin/projects/{id}/keys"),
            |path, token| async move {
                api::send::<_, WriteKeyView>("POST", &path, &(), &token).await
            },
            move |key| {
                projects.chosen.set(Some(key.key.clone()));
                projects.change(id, |p| p.keys.push(key));
            },
        );
    }

    /// `PUT …/domains` with the domains typed in `text`, which then shows them as saved.
    pub(crate) fn save_domains(self, text: Signal<String>) {
        let CardActions { id, projects, .. } = self;
        let request = SetDomainsRequest {
            domains: split_domains(&text.get_clone_untracked()),
        };
        self.run(
            format!("/api/admin/projects/{id}/domains"),
            move |path, token| {
                let request = request.clone();
                async move { api::send::<_, ProjectDomains>("PUT", &path, &request, &token).await }
            },
            move |saved| {
                text.set(saved.domains.join(", "));
                projects.change(id, |p| p.domains = saved.domains);
            },
        );
    }

    /// Asks, then `DELETE …/keys/{key}`: the key leaves the card.
    pub(crate) fn revoke(self, key: WriteKeyView) {
        let ask = Ask {
            title: "Revoke this write key?".to_owned(),
            message: format!(
                "Events sent with {} will be refused from now on. Sites using it stop being \
                 counted until they get a new key.",
                key.key
            ),
            confirm: "Revoke key".to_owned(),
            on_confirm: Rc::new(move || self.delete_key(key.id)),
        };
        self.confirm.ask(ask);
    }

    fn delete_key(self, key_id: Uuid) {
        let CardActions { id, projects, .. } = self;
        self.run(
            format!("/api/admin/projects/{id}/keys/{key_id}"),
            |path, token| async move {
                api::send_without_answer::<()>("DELETE", &path, None, &token).await
            },
            move |()| projects.change(id, |p| p.keys.retain(|k| k.id != key_id)),
        );
    }
}

/// Domains typed as a list: separated by commas, spaces or new lines.
pub(crate) fn split_domains(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_split_on_commas_and_spaces() {
        assert_eq!(
            split_domains(" shop.example, www.shop.example\nblog.example ,,"),
            ["shop.example", "www.shop.example", "blog.example"]
        );
        assert!(split_domains("  ").is_empty());
    }
}
