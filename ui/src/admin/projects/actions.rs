//! What a project's card changes: issuing and revoking write keys (a revoke asks first) and
//! saving its Plausible domains, one call at a time, the error shown on the card.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use contract::auth::{ProjectDomains, SetDomainsRequest, WriteKeyView};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;
use uuid::Uuid;

use super::super::confirm::{Ask, Confirm};
use super::state::Projects;
use crate::api::{self, Action, ApiError};
use crate::session::Session;

/// A call of a card, answered with nothing the card needs beyond success.
type Call = Pin<Box<dyn Future<Output = Result<(), ApiError>>>>;

/// The card of project `id`: its calls, whether one runs and how the last one failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CardActions {
    pub(crate) id: Uuid,
    pub(crate) session: Session,
    pub(crate) confirm: Confirm,
    pub(crate) projects: Projects,
    pub(crate) busy: Signal<bool>,
    pub(crate) error: Signal<Option<String>>,
}

impl CardActions {
    /// Runs `call` unless one runs; its error shows on this card.
    fn run(self, call: Call) {
        let CardActions { busy, error, .. } = self;
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = call.await;
            if busy.is_alive() {
                busy.set(false);
                if let Err(err) = outcome {
                    error.set(Some(api::explain(&err, Action::Work)));
                }
            }
        });
    }

    /// `POST …/keys`: the new key joins the card and the snippets are written for it.
    pub(crate) fn issue_key(self) {
        let CardActions {
            id,
            session,
            projects,
            ..
        } = self;
        self.run(Box::pin(async move {
            let path = format!("/api/admin/projects/{id}/keys");
            let key = session
                .authorized(|token| {
                    let path = path.clone();
                    async move { api::send::<_, WriteKeyView>("POST", &path, &(), &token).await }
                })
                .await?;
            if projects.list.is_alive() {
                projects.chosen.set(Some(key.key.clone()));
                projects.change(id, |p| p.keys.push(key));
            }
            Ok(())
        }));
    }

    /// `PUT …/domains` with the domains typed in `text`, which then shows them as saved.
    pub(crate) fn save_domains(self, text: Signal<String>) {
        let CardActions {
            id,
            session,
            projects,
            ..
        } = self;
        let domains = split_domains(&text.get_clone_untracked());
        self.run(Box::pin(async move {
            let path = format!("/api/admin/projects/{id}/domains");
            let request = SetDomainsRequest { domains };
            let saved =
                session
                    .authorized(|token| {
                        let path = path.clone();
                        let request = request.clone();
                        async move {
                            api::send::<_, ProjectDomains>("PUT", &path, &request, &token).await
                        }
                    })
                    .await?;
            if projects.list.is_alive() {
                text.set(saved.domains.join(", "));
                projects.change(id, |p| p.domains = saved.domains);
            }
            Ok(())
        }));
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
        let CardActions {
            id,
            session,
            projects,
            ..
        } = self;
        self.run(Box::pin(async move {
            let path = format!("/api/admin/projects/{id}/keys/{key_id}");
            session
                .authorized(|token| {
                    let path = path.clone();
                    async move {
                        api::send_without_answer::<()>("DELETE", &path, None, &token).await
                    }
                })
                .await?;
            if projects.list.is_alive() {
                projects.change(id, |p| p.keys.retain(|k| k.id != key_id));
            }
            Ok(())
        }));
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
