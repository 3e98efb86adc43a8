//! Password-reset links in the users tab: a button per user asks first, then auth makes a
//! single-use link lasting 24 hours, shown once above the table, read-only with a Copy button
//! and when it expires, for the admin to send to the user by a way of their own.

use std::rc::Rc;

use contract::auth::{PasswordResetLink, RESET_LINK_HOURS};
use sycamore::prelude::*;
use uuid::Uuid;

use super::state::{IssuedReset, Users};
use crate::admin::projects::copy::copy_button;
use crate::analytics::annotations::when::instant_label;
use crate::api;
use crate::browser::{after, origin};
use crate::busy::Busy;
use crate::confirm::{Ask, Confirm};

/// The id of the field holding the link shown.
const LINK_ID: &str = "reset-link";

/// Asks before making a reset link for the user `id` (`email`); the row's `calls` make it.
pub(super) fn ask_reset(confirm: Confirm, users: Users, calls: Busy, id: Uuid, email: String) {
    confirm.ask(Ask {
        title: "Create a password reset link?".to_owned(),
        message: format!(
            "Whoever opens the link can set a new password for {email} once, within \
             {RESET_LINK_HOURS} hours, and every session of the account ends. It is shown only \
             once: send it to them yourself."
        ),
        confirm: "Create link".to_owned(),
        on_confirm: Rc::new(move || issue(users, calls, id, email.clone())),
    });
}

/// `POST /api/admin/users/{id}/password-reset`: the link shows above the table.
fn issue(users: Users, calls: Busy, id: Uuid, email: String) {
    calls.run(
        format!("/api/admin/users/{id}/password-reset"),
        |path, token| async move {
            api::send::<_, PasswordResetLink>("POST", &path, &(), &token).await
        },
        move |link| {
            if users.issued.is_alive() {
                users.issued.set(Some(IssuedReset { email, link }));
                // Where the admin goes next: to copy it.
                after(0, || crate::a11y::focus_by_id(LINK_ID));
            }
        },
        || {},
    );
}

/// The link made last, with Copy, its expiry and a button that puts it away.
#[component(inline_props)]
pub(super) fn ResetLinkPanel(users: Users) -> View {
    view! {
        (move || users.issued.get_clone().map(|issued| issued_view(users, &issued)))
    }
}

fn issued_view(users: Users, issued: &IssuedReset) -> View {
    let link = format!("{}{}", origin(), issued.link.link);
    let copied = link.clone();
    let copy = copy_button(
        "reset-copy",
        "Copy",
        format!("Copy the password reset link for {}", issued.email),
        move || copied.clone(),
    );
    let title = format!("Password reset link for {}", issued.email);
    let note = format!(
        "Send it to {} yourself. It is shown only this once, works once, and expires at {}.",
        issued.email,
        instant_label(issued.link.expires_at.unix_timestamp())
    );
    view! {
        section(id="reset-link-panel", class="reset-created", aria-labelledby="reset-link-title") {
            h3(id="reset-link-title") { (title) }
            div(class="inline-field") {
                input(id=LINK_ID, r#type="text", readonly=true, value=link,
                    aria-labelledby="reset-link-title", aria-describedby="reset-link-note")
                (copy)
            }
            p(id="reset-link-note", class="hint") { (note) }
            button(r#type="button", id="reset-link-done", on:click=move |_| users.issued.set(None)) {
                "Done"
            }
        }
    }
}
