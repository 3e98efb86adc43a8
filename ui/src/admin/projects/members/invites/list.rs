//! The pending invites of a project, newest first: email, role, expiry and a Revoke button,
//! which ends the link at once.

use contract::auth::InviteView;
use sycamore::prelude::*;

use super::super::roles::role_label;
use super::state::{Invites, expiry_label};
use crate::api;
use crate::busy::Busy;
use crate::session::Session;

#[component(inline_props)]
pub(crate) fn PendingInvites(invites: Invites) -> View {
    let rows = create_memo(move || invites.list.get_clone().unwrap_or_default());
    let any = move || {
        invites
            .list
            .with(|list| list.as_ref().is_some_and(|l| !l.is_empty()))
    };
    let project = invites.project;
    let title_id = format!("invites-{project}-pending");
    let labelled_by = title_id.clone();
    view! {
        (move || invites.error.get_clone().map(|message| view! {
            p(class="form-error invites-error", role="alert") {
                "Could not list the invites: " (message)
            }
        }))
        div(class="pending-invites", hidden=move || !any()) {
            h5(id=title_id) { "Pending invites" }
            ul(class="invite-list", aria-labelledby=labelled_by) {
                Keyed(
                    list=rows,
                    view=move |invite| view! { InviteRow(invite=invite, invites=invites) },
                    key=|invite| invite.id,
                )
            }
        }
    }
}

/// One pending invite. Revoking asks nothing first: inviting again gives a new link.
#[component(inline_props)]
fn InviteRow(invite: InviteView, invites: Invites) -> View {
    let calls = Busy::new(use_context::<Session>());
    let Busy { busy, error, .. } = calls;
    let id = invite.id;
    let revoke = move |_| {
        calls.run(
            invites.path(Some(id)),
            |path, token| async move {
                api::send_without_answer::<()>("DELETE", &path, None, &token).await
            },
            move |()| invites.revoked(id),
            || {},
        );
    };
    let expires = format!("expires {}", expiry_label(&invite));
    let revoke_name = format!("Revoke the invite of {}", invite.email);
    view! {
        li(class="invite-row", data-invite=id.to_string()) {
            span(class="invite-row-email") { (invite.email.clone()) }
            span(class="chip invite-row-role") { (role_label(invite.role)) }
            span(class="muted invite-row-expiry") { (expires) }
            button(r#type="button", class="invite-revoke danger", aria-label=revoke_name,
                disabled=busy, on:click=revoke) { "Revoke" }
            (move || error.get_clone().map(|message| view! {
                p(class="row-error form-error", role="alert") { (message) }
            }))
        }
    }
}
