//! The account page, `/account`: who the signed-in user is, their API keys for the query API
//! (created, shown once, listed and revoked here), and the members, invites, retention and
//! history of the projects they administer.

mod administered;
mod keys;
mod projects;

use sycamore::prelude::*;

use self::administered::AdministeredProjects;
use self::keys::ApiKeysSection;
use self::projects::MyProjects;
use crate::confirm::{Confirm, ConfirmDialog};
use crate::pages::{display_name, role_label};
use crate::session::Session;

#[component]
pub(crate) fn AccountPage() -> View {
    let session = use_context::<Session>();
    let projects = MyProjects::new();
    provide_context(Confirm::new());
    on_mount(move || projects.load(session));
    view! {
        section(id="account-page", aria-labelledby="page-title") {
            h2(id="page-title") { "Your account" }
            Identity {}
            ApiKeysSection(projects=projects)
            AdministeredProjects(projects=projects)
            ConfirmDialog {}
        }
    }
}

/// The user's name, email and role on the instance.
#[component]
fn Identity() -> View {
    let session = use_context::<Session>();
    view! {
        (move || session.user().map(|user| {
            let name = display_name(&user);
            let email = user.email.clone();
            let role = role_label(user.role);
            view! {
                section(class="card account-identity", aria-labelledby="identity-title") {
                    h3(id="identity-title") { "Who you are" }
                    dl(class="account-facts") {
                        div { dt { "Name" } dd(id="account-name") { (name) } }
                        div { dt { "Email" } dd(id="account-email") { (email) } }
                        div { dt { "Role on this instance" } dd(id="account-role") { (role) } }
                    }
                }
            }
        }))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use contract::auth::{Role, UserView};

    use crate::route::Route;
    use crate::session::{Auth, Session, SignedIn};

    pub(super) fn render_account(role: Role) -> String {
        sycamore::web::render_to_string(move || {
            let user = serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "ada@example.com",
                "name": "Ada",
                "role": role,
            });
            let user: UserView = serde_json::from_value(user).expect("a user view");
            let session = Session::new(Auth::SignedIn(SignedIn::new(user, "token".to_owned())));
            crate::shell(Route::Account, session)
        })
    }

    #[test]
    fn the_page_says_who_you_are_and_offers_the_key_form_and_a_closed_dialog() {
        let html = render_account(Role::User);
        assert!(html.contains("id=\"account-page\""), "{html}");
        assert!(html.contains("ada@example.com"), "{html}");
        assert!(html.contains("id=\"nav-account\""), "{html}");
        for id in ["api-key-name", "api-key-expires"] {
            assert!(
                html.contains(&format!("for=\"{id}\"")),
                "{id} labelled: {html}"
            );
        }
        assert!(html.contains("id=\"api-key-create\""), "{html}");
        assert!(html.contains("id=\"confirm-dialog\""), "{html}");
        assert!(
            !html.contains("id=\"api-key-created\""),
            "no key shown yet: {html}"
        );
    }

    #[test]
    fn an_instance_admin_is_sent_to_the_admin_panel_for_projects() {
        let html = render_account(Role::Admin);
        assert!(html.contains("href=\"/admin?tab=projects\""), "{html}");
        let html = render_account(Role::User);
        assert!(!html.contains("href=\"/admin?tab=projects\""), "{html}");
    }
}
