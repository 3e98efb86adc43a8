//! The page an invite link opens, `/invite/<token>`: signed in, it accepts the invite once and
//! says which project the user joined with which role, or why the link no longer works. A
//! signed-out visitor is sent to the sign-in form first (or on to register), and back here.

use contract::auth::{AcceptInviteRequest, AcceptedInvite, ProjectRole};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::api::{self, Action};
use crate::route::{Link, Route, Router};
use crate::session::Session;

/// Where accepting the invite stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Accepting,
    Accepted(AcceptedInvite),
    Refused(String),
}

/// "You are now a viewer of Shop.": the sentence for a joined project.
fn joined(accepted: &AcceptedInvite) -> String {
    let role = match accepted.role {
        ProjectRole::Viewer => "a viewer",
        ProjectRole::Analyst => "an analyst",
        ProjectRole::Admin => "an admin",
    };
    format!("You are now {role} of {}.", accepted.project_name)
}

#[component]
pub(crate) fn InvitePage() -> View {
    let session = use_context::<Session>();
    let router = use_context::<Router>();
    let outcome = create_signal(Outcome::Accepting);
    // Once per opening: the token is single-use, so a second call would only be refused.
    on_mount(move || {
        let Some(token) = router.invite() else {
            outcome.set(Outcome::Refused(
                "This invite link is no longer valid".to_owned(),
            ));
            return;
        };
        let request = AcceptInviteRequest { token };
        spawn_local(async move {
            let answer = session
                .authorized(|access| {
                    let request = request.clone();
                    async move {
                        api::send::<_, AcceptedInvite>(
                            "POST",
                            "/api/auth/invites/accept",
                            &request,
                            &access,
                        )
                        .await
                    }
                })
                .await;
            if outcome.is_alive() {
                outcome.set(match answer {
                    Ok(accepted) => Outcome::Accepted(accepted),
                    Err(err) => Outcome::Refused(api::explain(&err, Action::Work)),
                });
            }
        });
    });
    view! {
        section(class="card invite-card", aria-labelledby="page-title") {
            h2(id="page-title") { "Project invite" }
            (move || match outcome.get_clone() {
                Outcome::Accepting => view! {
                    p(id="invite-accepting", class="status", role="status") { "Accepting the invite…" }
                },
                Outcome::Accepted(accepted) => {
                    let sentence = joined(&accepted);
                    view! {
                        div(id="invite-accepted", role="status") {
                            p { (sentence) }
                            p { Link(to=Route::Analytics, id="invite-to-analytics") { "Open Analytics" } }
                        }
                    }
                }
                Outcome::Refused(message) => view! {
                    div(id="invite-error", role="alert") {
                        p(class="form-error") { (message) }
                        p(class="hint") { "Ask the project's admin for a new link." }
                        p { Link(to=Route::Home, id="back-home") { "Go to home" } }
                    }
                },
            })
        }
    }
}

/// On the sign-in and registration forms, while an invite link waits: why to sign in.
pub(crate) fn invite_note() -> View {
    let router = use_context::<Router>();
    view! {
        (move || (router.intended() == Some(Route::Invite)).then(|| view! {
            p(id="invite-note", class="notice", role="status") {
                "Sign in, or create an account with the invited email, to accept your invite."
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn the_joined_project_reads_as_a_sentence_with_its_article() {
        let accepted = |role| AcceptedInvite {
            project_id: Uuid::from_u128(1),
            project_name: "Shop".to_owned(),
            role,
        };
        assert_eq!(
            joined(&accepted(ProjectRole::Viewer)),
            "You are now a viewer of Shop."
        );
        assert_eq!(
            joined(&accepted(ProjectRole::Analyst)),
            "You are now an analyst of Shop."
        );
    }
}
