//! A row of a project's members table: the member's email and name, their role (a select that
//! saves on change) and the button that removes them.

use std::future::Future;

use contract::auth::{MemberView, ProjectRole, SetMemberRequest};
use sycamore::prelude::*;
use uuid::Uuid;

use super::roles::{ROLES, role_label};
use super::state::Members;
use crate::api::{self, ApiError};
use crate::browser::target_value;
use crate::busy::Busy;
use crate::session::Session;

/// One row's member as the list holds it now, and the row's calls.
#[derive(Clone, Copy)]
struct Row {
    id: Uuid,
    members: Members,
    role: ReadSignal<ProjectRole>,
    calls: Busy,
    /// The role select, set back to the stored role after a refused change.
    select: NodeRef,
}

impl Row {
    /// The select shows the role as stored: after a change, and after a refused one.
    fn show_role(self) {
        if let Some(node) = self.select.try_get() {
            let _ = js_sys::Reflect::set(
                &node,
                &"value".into(),
                &self.role.get_untracked().as_str().into(),
            );
        }
    }

    /// Runs `call` with this member's path; after a failure the select shows the stored role.
    fn run<T: 'static, Fut>(
        self,
        call: impl Fn(String, String) -> Fut + 'static,
        done: impl FnOnce(T) + 'static,
    ) where
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let path = self.members.path(Some(self.id));
        self.calls.run(path, call, done, move || self.show_role());
    }

    /// A role chosen in the select: `PUT …/members/{user}` when it changed.
    fn choose_role(self, event: &web_sys::Event) {
        let chosen = target_value(event).parse::<ProjectRole>().ok();
        let Some(role) = chosen.filter(|&role| role != self.role.get_untracked()) else {
            self.show_role();
            return;
        };
        let members = self.members;
        let request = SetMemberRequest { role };
        self.run(
            move |path, token| {
                let request = request.clone();
                async move { api::send::<_, MemberView>("PUT", &path, &request, &token).await }
            },
            move |member| members.saved(member),
        );
    }

    /// `DELETE …/members/{user}`: the member leaves the table. Nothing is asked first, as
    /// adding them again undoes it.
    fn remove(self) {
        let Row { id, members, .. } = self;
        self.run(
            |path, token| async move {
                api::send_without_answer::<()>("DELETE", &path, None, &token).await
            },
            move |()| members.removed(id),
        );
    }
}

/// One row. It reads its member from the list by id, so a change re-renders its cells, not the
/// row, and the keyboard focus stays where it was.
#[component(inline_props)]
pub(crate) fn MemberRow(member: MemberView, members: Members) -> View {
    let id = member.user_id;
    let initial = member.role;
    let role = create_memo(move || {
        members.list.with(|list| {
            list.iter()
                .flatten()
                .find(|m| m.user_id == id)
                .map_or(initial, |m| m.role)
        })
    });
    let row = Row {
        id,
        members,
        role,
        calls: Busy::new(use_context::<Session>()),
        select: create_node_ref(),
    };
    let Busy { busy, error, .. } = row.calls;
    let options = ROLES
        .into_iter()
        .map(|r| {
            view! { option(value=r.as_str(), selected=r == initial) { (role_label(r)) } }
        })
        .collect::<Vec<_>>();
    let id_attr = id.to_string();
    let role_name = format!("Role of {}", member.email);
    let remove_name = format!("Remove {}", member.email);
    let email = member.email.clone();
    let name = member.name.trim().to_owned();
    view! {
        tr(class="member-row", data-user=id_attr) {
            td(class="member-cell") {
                span(class="member-email") { (email) }
                (if name.is_empty() { view! {} } else {
                    let name = name.clone();
                    view! { span(class="member-name") { (name) } }
                })
            }
            td {
                // The select and the button share a cell, so that on a phone the button moves
                // under the select rather than the table growing sideways.
                div(class="member-actions") {
                    select(r#ref=row.select, class="member-role", aria-label=role_name,
                        disabled=busy,
                        on:change=move |event: web_sys::Event| row.choose_role(&event)) { (options) }
                    button(r#type="button", class="member-remove danger", aria-label=remove_name,
                        disabled=busy, on:click=move |_| row.remove()) { "Remove" }
                    (move || busy.get().then(|| view! {
                        span(class="row-busy", role="status") { "Saving…" }
                    }))
                }
                (move || error.get_clone().map(|message| view! {
                    p(class="row-error form-error", role="alert") { (message) }
                }))
            }
        }
    }
}
