//! A project card's members section: who may read or manage the project and with which role,
//! a role select and a remove button per member, and the form that adds one. It is folded
//! until opened, and reads the members (and the users to offer) each time it is opened. Under
//! them, the invites: a link for someone who may not have an account yet. A project admin who
//! is no instance admin gets it too (on their account page), without the add form: the users
//! it offers are the instance's, which only instance admins may list.

mod add;
mod invites;
mod roles;
mod row;
mod state;

use sycamore::prelude::*;
use uuid::Uuid;

use self::add::AddMember;
use self::invites::{Invites, InvitesSection};
use self::row::MemberRow;
pub(crate) use self::state::Directory;
use self::state::Members;
use crate::session::Session;

#[component(inline_props)]
pub(crate) fn MembersSection(
    project: Uuid,
    name: String,
    // The instance's users the add form offers; none: no add form, people join by invite.
    directory: Option<Directory>,
) -> View {
    let session = use_context::<Session>();
    let members = Members::new(project);
    let invites = Invites::new(project);
    let opened = move |event: web_sys::Event| {
        let open = event
            .target()
            .and_then(|target| js_sys::Reflect::get(&target, &"open".into()).ok())
            .is_some_and(|open| open.is_truthy());
        if open {
            members.load(session);
            if let Some(directory) = directory {
                directory.load(session);
            }
            invites.load(session);
        }
    };
    let section_id = format!("members-{project}");
    let summary_name = format!("Members of {name}");
    view! {
        details(id=section_id, class="members", on:toggle=opened) {
            summary(aria-label=summary_name) { "Members" }
            (move || (members.loading.get() && members.list.with(Option::is_none)).then(|| view! {
                p(class="status members-loading", role="status") { "Loading members…" }
            }))
            (move || members.error.get_clone().map(|message| view! {
                p(class="form-error members-error", role="alert") {
                    (message) " "
                    button(r#type="button", class="link-button", on:click=move |_| members.load(session)) {
                        "Try again"
                    }
                }
            }))
            MembersTable(members=members, name=name)
            (match directory {
                Some(directory) => view! { AddMember(members=members, directory=directory) },
                None => view! {
                    p(class="hint add-by-invite") { "To add someone, invite them by email below." }
                },
            })
            InvitesSection(invites=invites)
        }
    }
}

/// The table of the members, a row each, or a line saying there is none.
#[component(inline_props)]
fn MembersTable(members: Members, name: String) -> View {
    let rows = create_memo(move || members.list.get_clone().unwrap_or_default());
    let empty = move || {
        members
            .list
            .with(|list| list.as_ref().is_some_and(Vec::is_empty))
    };
    let caption = format!("Members of {name}");
    view! {
        (move || empty().then(|| view! {
            p(class="status members-empty") { "No members yet: only instance admins see this project." }
        }))
        div(class="table-scroll", hidden=move || members.list.with(|list| list.as_ref().is_none_or(Vec::is_empty))) {
            table(class="admin-table members-table",
                aria-busy=move || members.loading.get().to_string()) {
                caption(class="visually-hidden") { (caption) }
                thead {
                    tr {
                        th(scope="col") { "Member" }
                        th(scope="col") { "Role" }
                    }
                }
                tbody {
                    Keyed(
                        list=rows,
                        view=move |member| view! { MemberRow(member=member, members=members) },
                        key=|member| member.user_id,
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_section_is_folded_with_a_labelled_add_form() {
        use crate::session::{Auth, SignedIn};

        let project = Uuid::from_u128(9);
        let html = sycamore::web::render_to_string(move || {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "root@example.com",
                "name": "Root",
                "role": "admin",
            });
            let user = serde_json::from_value(user).expect("a user view");
            provide_context(Session::new(Auth::SignedIn(SignedIn::new(
                user,
                "token".to_owned(),
            ))));
            let directory = Directory::new();
            view! { MembersSection(project=project, name="Shop".to_owned(), directory=directory) }
        });
        assert!(
            html.contains(&format!("id=\"members-{project}\"")),
            "{html}"
        );
        assert!(
            html.contains(&format!("id=\"add-member-{project}\"")),
            "{html}"
        );
        for field in ["user", "role"] {
            let id = format!("add-member-{project}-{field}");
            assert!(
                html.contains(&format!("for=\"{id}\"")),
                "{id} labelled: {html}"
            );
            assert!(html.contains(&format!("add-member-{field}")), "{html}");
        }
        assert!(html.contains(&format!("id=\"invite-{project}\"")), "{html}");
        for class in ["invite-email", "invite-role", "invite-send"] {
            assert!(html.contains(class), "{class}: {html}");
        }
        assert!(html.contains("Loading users…"), "{html}");
        assert!(!html.contains("open="), "folded until opened: {html}");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn without_the_users_to_offer_people_join_by_invite_only() {
        use crate::session::{Auth, SignedIn};

        let project = Uuid::from_u128(9);
        let html = sycamore::web::render_to_string(move || {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000002",
                "email": "dora@example.com",
                "name": "Dora",
                "role": "user",
            });
            let user = serde_json::from_value(user).expect("a user view");
            provide_context(Session::new(Auth::SignedIn(SignedIn::new(
                user,
                "token".to_owned(),
            ))));
            view! { MembersSection(project=project, name="Shop".to_owned()) }
        });
        assert!(!html.contains("add-member"), "{html}");
        assert!(html.contains("invite them by email"), "{html}");
        assert!(html.contains(&format!("id=\"invite-{project}\"")), "{html}");
    }
}
