//! The "Invite by email" form: an email and the role it gets; once sent, the invite's link to
//! copy, which auth shows only this once.

use contract::auth::{CreateInviteRequest, CreatedInvite, ProjectRole};
use sycamore::prelude::*;

use super::super::super::copy::copy_button;
use super::super::roles::{ROLES, role_label};
use super::state::{Invites, expiry_label};
use crate::api;
use crate::browser::{origin, target_value};
use crate::busy::Busy;
use crate::session::Session;

/// The form's fields and its call.
#[derive(Debug, Clone, Copy)]
struct Form {
    invites: Invites,
    email: Signal<String>,
    role: Signal<ProjectRole>,
    calls: Busy,
}

impl Form {
    /// `POST …/invites` with the email and role; auth's default expiry (7 days) applies.
    fn submit(self) {
        let Form {
            invites,
            email,
            role,
            calls,
        } = self;
        let address = email.get_clone_untracked().trim().to_owned();
        if address.is_empty() {
            calls
                .error
                .set(Some("Enter the email to invite".to_owned()));
            return;
        }
        let request = CreateInviteRequest {
            email: address,
            role: role.get_untracked(),
            expires_in_days: None,
        };
        calls.run(
            invites.path(None),
            move |path, token| {
                let request = request.clone();
                async move { api::send::<_, CreatedInvite>("POST", &path, &request, &token).await }
            },
            move |created| {
                if email.is_alive() {
                    email.set(String::new());
                }
                invites.saved(created);
            },
            || {},
        );
    }
}

#[component(inline_props)]
pub(crate) fn InviteForm(invites: Invites) -> View {
    let form = Form {
        invites,
        email: create_signal(String::new()),
        role: create_signal(ProjectRole::Viewer),
        calls: Busy::new(use_context::<Session>()),
    };
    let Busy { busy, error, .. } = form.calls;
    let project = invites.project;
    let form_id = format!("invite-{project}");
    let email_id = format!("invite-{project}-email");
    let role_id = format!("invite-{project}-role");
    let (email_for, role_for) = (email_id.clone(), role_id.clone());
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        form.submit();
    };
    let roles = ROLES
        .into_iter()
        .map(|r| {
            view! { option(value=r.as_str(), selected=r == ProjectRole::Viewer) { (role_label(r)) } }
        })
        .collect::<Vec<_>>();
    view! {
        h4(class="invites-title") { "Invite by email" }
        form(id=form_id, class="invite-form", on:submit=submit,
            aria-busy=move || busy.get().to_string()) {
            div(class="field") {
                label(r#for=email_for) { "Email" }
                input(id=email_id, class="invite-email", r#type="email", autocomplete="off",
                    required=true, bind:value=form.email)
            }
            div(class="field") {
                label(r#for=role_for) { "Role" }
                select(id=role_id, class="invite-role", on:change=move |event: web_sys::Event| {
                    if let Ok(role) = target_value(&event).parse() {
                        form.role.set(role);
                    }
                }) { (roles) }
            }
            button(r#type="submit", class="invite-send", disabled=busy) {
                (move || if busy.get() { "Sending…" } else { "Create invite link" })
            }
        }
        (move || error.get_clone().map(|message| view! {
            p(class="form-error invite-error", role="alert") { (message) }
        }))
        (move || invites.created.get_clone().map(|created| created_link(project, &created)))
    }
}

/// The link of the invite just created, read-only with a Copy button, and when it expires.
fn created_link(project: uuid::Uuid, created: &CreatedInvite) -> View {
    let link = format!("{}{}", origin(), created.link);
    let link_id = format!("invite-{project}-link");
    let link_for = link_id.clone();
    let note_id = format!("invite-{project}-note");
    let described_by = note_id.clone();
    let copied = link.clone();
    let copy = copy_button(
        "invite-copy",
        "Copy",
        format!("Copy the invite link for {}", created.invite.email),
        move || copied.clone(),
    );
    let note = format!(
        "Send this link to {}. It is shown only once and expires on {}.",
        created.invite.email,
        expiry_label(&created.invite)
    );
    view! {
        div(class="invite-created", role="status") {
            label(r#for=link_for) { "Invite link" }
            div(class="inline-field") {
                input(id=link_id, class="invite-link", r#type="text", readonly=true,
                    value=link, aria-describedby=described_by)
                (copy)
            }
            p(id=note_id, class="hint invite-note") { (note) }
        }
    }
}
