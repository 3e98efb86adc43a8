//! The form that adds a member to a project: one of the users who are not members yet, by
//! email, and the role they get.

use contract::auth::{MemberView, ProjectRole, SetMemberRequest};
use sycamore::prelude::*;
use uuid::Uuid;

use super::roles::{ROLES, role_label};
use super::state::{Directory, Members, candidates};
use crate::api;
use crate::browser::target_value;
use crate::busy::Busy;
use crate::session::Session;

/// The form's choices and its call.
#[derive(Debug, Clone, Copy)]
struct Form {
    members: Members,
    /// The chosen user's id, empty before a choice.
    user: Signal<String>,
    role: Signal<ProjectRole>,
    calls: Busy,
}

impl Form {
    /// `PUT …/members/{user}` with the chosen role: the user joins the table and leaves the
    /// choices.
    fn submit(self) {
        let Form {
            members,
            user,
            role,
            calls,
        } = self;
        let Ok(id) = user.get_clone_untracked().parse::<Uuid>() else {
            calls.error.set(Some("Choose a user to add".to_owned()));
            return;
        };
        let request = SetMemberRequest {
            role: role.get_untracked(),
        };
        calls.run(
            members.path(Some(id)),
            move |path, token| {
                let request = request.clone();
                async move { api::send::<_, MemberView>("PUT", &path, &request, &token).await }
            },
            move |member| {
                if user.is_alive() {
                    user.set(String::new());
                }
                members.saved(member);
            },
            || {},
        );
    }
}

#[component(inline_props)]
pub(crate) fn AddMember(members: Members, directory: Directory) -> View {
    let form = Form {
        members,
        user: create_signal(String::new()),
        role: create_signal(ProjectRole::Viewer),
        calls: Busy::new(use_context::<Session>()),
    };
    let Busy { busy, error, .. } = form.calls;
    let project = members.project;
    let form_id = format!("add-member-{project}");
    let user_id = format!("add-member-{project}-user");
    let role_id = format!("add-member-{project}-role");
    let (user_for, role_for) = (user_id.clone(), role_id.clone());
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
        form(id=form_id, class="add-member", on:submit=submit,
            aria-busy=move || busy.get().to_string()) {
            div(class="field") {
                label(r#for=user_for) { "User" }
                select(id=user_id, class="add-member-user", on:change=move |event: web_sys::Event| {
                    form.user.set(target_value(&event));
                }) { (move || user_options(form, directory)) }
            }
            div(class="field") {
                label(r#for=role_for) { "Role" }
                select(id=role_id, class="add-member-role", on:change=move |event: web_sys::Event| {
                    if let Ok(role) = target_value(&event).parse() {
                        form.role.set(role);
                    }
                }) { (roles) }
            }
            button(r#type="submit", class="add-member", disabled=busy) { "Add" }
        }
        (move || error.get_clone().map(|message| view! {
            p(class="form-error add-member-error", role="alert") { (message) }
        }))
        (move || directory.error.get_clone().map(|message| view! {
            p(class="form-error", role="alert") { "Could not list the users: " (message) }
        }))
    }
}

/// "Choose a user", then each user who is not a member yet, by email.
fn user_options(form: Form, directory: Directory) -> Vec<View> {
    // Untracked: a choice changes no option; the list is written again when the members or
    // the users change, with the choice as it is then.
    let chosen = form.user.get_clone_untracked();
    let left = directory.users.with(|users| {
        form.members.list.with(|members| {
            candidates(
                users.as_deref().unwrap_or_default(),
                members.as_deref().unwrap_or_default(),
            )
        })
    });
    let prompt = if directory.users.with(Option::is_none) {
        "Loading users…"
    } else if left.is_empty() {
        "Every user is a member"
    } else {
        "Choose a user"
    };
    let none_chosen = chosen.is_empty();
    let mut options = vec![view! { option(value="", selected=none_chosen) { (prompt) } }];
    options.extend(left.into_iter().map(|user| {
        let id = user.id.to_string();
        let selected = id == chosen;
        view! { option(value=id, selected=selected) { (user.email) } }
    }));
    options
}
