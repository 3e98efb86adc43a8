//! A project's invites, under its members: the form that invites an email with a role and
//! shows the link once, and the pending invites with a Revoke button each.

mod form;
mod list;
mod state;

use sycamore::prelude::*;

use self::form::InviteForm;
use self::list::PendingInvites;
pub(crate) use self::state::Invites;

#[component(inline_props)]
pub(crate) fn InvitesSection(invites: Invites) -> View {
    let section_id = format!("invites-{}", invites.project);
    view! {
        div(id=section_id, class="invites") {
            InviteForm(invites=invites)
            PendingInvites(invites=invites)
        }
    }
}
