//! The page of a shared link, `/shared/<token>`: a dashboard shown read-only to whoever has the
//! link, signed in or not, and nothing else of the app (no masthead, no links into it). A link
//! with a password asks for it first, then sends it with every call; a revoked or unknown link
//! says so.

use contract::auth::{SHARE_PASSWORD_HEADER, SharedDashboard, SharedTile};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::analytics::insight::{Answer, about, fetch, shown};
use crate::analytics::load::Load;
use crate::api::{self, Action, ApiError};
use crate::route::{location_path, shared_token};

/// What a revoked or unknown link shows.
pub(crate) const MISSING: &str = "This shared link does not exist or was revoked.";

/// Where opening the link stands.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Opening,
    /// The link has a password; `wrong` when the one sent was not it.
    Password {
        wrong: bool,
    },
    Missing,
    Failed(String),
    Open(SharedDashboard),
}

/// What each call of the page sends: the link's token, and the password the visitor gave once
/// asked. Calls hold their own copy, so one answering after the page is gone touches nothing.
#[derive(Debug, Clone, Default, PartialEq)]
struct Access {
    token: String,
    password: Option<String>,
}

impl Access {
    /// `GET /api/shared/{token}{rest}` with the password, if any.
    async fn get<T: serde::de::DeserializeOwned>(&self, rest: &str) -> Result<T, ApiError> {
        let path = format!("/api/shared/{}{rest}", api::encode_component(&self.token));
        match &self.password {
            Some(password) => api::public::get(&path, &[(SHARE_PASSWORD_HEADER, password)]).await,
            None => api::public::get(&path, &[]).await,
        }
    }

    /// The dashboard, or why not. A 404 is asked again for a few seconds: query learns of a
    /// new link from the stream a moment after auth stored it, and its maker may open it at
    /// once.
    async fn open(&self) -> Stage {
        let mut tries = 1;
        loop {
            match self.get::<SharedDashboard>("").await {
                Ok(dashboard) => return Stage::Open(dashboard),
                Err(err) if err.status() == Some(404) && tries < 5 => {
                    crate::browser::sleep_ms(300 * tries).await;
                    tries += 1;
                }
                Err(err) => return stage_of(&err, self.password.is_some()),
            }
        }
    }
}

/// What a refusal of the dashboard means to the visitor, `tried` a password or not.
fn stage_of(error: &ApiError, tried: bool) -> Stage {
    match error {
        ApiError::Refused {
            status: 401, code, ..
        } if code == "share_password" => Stage::Password { wrong: tried },
        ApiError::Refused { status: 404, .. } => Stage::Missing,
        _ => Stage::Failed(api::explain(error, Action::Work)),
    }
}

#[component]
pub(crate) fn SharedPage() -> View {
    let access = create_signal(Access {
        token: shared_token(&location_path()).unwrap_or_default(),
        password: None,
    });
    let stage = create_signal(Stage::Opening);
    let open = move || {
        if !cfg!(target_arch = "wasm32") {
            return;
        }
        let access = access.get_clone_untracked();
        spawn_local(async move {
            let opened = access.open().await;
            if stage.is_alive() {
                stage.set(opened);
            }
        });
    };
    on_mount(open);
    let page = move || match stage.get_clone() {
        Stage::Opening => view! {
            p(id="shared-opening", class="status", role="status") { "Opening the shared dashboard…" }
        },
        Stage::Password { wrong } => password_form(access, stage, wrong, open),
        Stage::Missing => view! {
            section(id="shared-missing", class="card auth-card", aria-labelledby="page-title") {
                h2(id="page-title") { "Link not found" }
                p { (MISSING) }
                p(class="hint") { "Ask whoever sent it for a new one." }
            }
        },
        Stage::Failed(message) => view! {
            p(id="shared-error", class="form-error", role="alert") { (message) }
        },
        Stage::Open(dashboard) => opened(access.get_clone_untracked(), dashboard),
    };
    view! {
        div(id="shared-page", class="analytics shared") {
            (page)
            p(class="shared-footer muted") { "Shared with " (contract::PRODUCT_NAME) }
        }
    }
}

/// The password form; sent, the dashboard is asked for again with it.
fn password_form(
    access: Signal<Access>,
    stage: Signal<Stage>,
    wrong: bool,
    open: impl Fn() + Copy + 'static,
) -> View {
    let typed = create_signal(String::new());
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let password = typed.get_clone_untracked();
        if password.is_empty() {
            return;
        }
        access.update(|access| access.password = Some(password));
        stage.set(Stage::Opening);
        open();
    };
    view! {
        section(id="shared-locked", class="card auth-card", aria-labelledby="page-title") {
            h2(id="page-title") { "This dashboard is protected" }
            p { "Enter the password you were given with the link." }
            form(id="shared-password-form", on:submit=submit) {
                div(class="field") {
                    label(r#for="shared-password") { "Password" }
                    input(id="shared-password", r#type="password", autocomplete="current-password",
                        required=true, bind:value=typed)
                }
                (wrong.then(|| view! {
                    p(id="shared-password-error", class="form-error", role="alert") {
                        "Wrong password, try again."
                    }
                }))
                button(id="shared-open", r#type="submit", class="primary") { "Open dashboard" }
            }
        }
    }
}

/// The dashboard's name and its tiles.
fn opened(access: Access, dashboard: SharedDashboard) -> View {
    let zone = format!("Read-only. Days are counted in {}.", dashboard.timezone);
    let count = dashboard.tiles.len();
    let tiles = dashboard
        .tiles
        .into_iter()
        .map(|tile| {
            let access = access.clone();
            view! { Tile(tile=tile, access=access) }
        })
        .collect::<Vec<_>>();
    let empty = (count == 0).then(|| {
        view! {
            p(class="status") { "This dashboard has no tiles yet." }
        }
    });
    view! {
        article(class="board", aria-labelledby="shared-title") {
            div(class="board-head") {
                div(class="board-titles") {
                    h2(id="shared-title") { (dashboard.name) }
                    p(class="hint") { (zone) }
                }
            }
            (empty)
            ul(id="tiles", class="tiles") { (tiles) }
        }
    }
}

/// A tile: its name, what it shows and its answer, from
/// `GET /api/shared/{token}/insights/{insight_id}`.
#[component(inline_props)]
fn Tile(tile: SharedTile, access: Access) -> View {
    let answer = create_signal(Load::<Answer>::Loading);
    let (id, kind) = (tile.insight_id, tile.kind);
    if cfg!(target_arch = "wasm32") {
        spawn_local(async move {
            let rest = format!("/insights/{id}");
            let loaded = fetch(kind, || {
                let (access, rest) = (access.clone(), rest.clone());
                async move { access.get::<serde_json::Value>(&rest).await }
            })
            .await;
            if answer.is_alive() {
                answer.set(loaded);
            }
        });
    }
    let title_id = format!("tile-{id}-title");
    let described = about(tile.kind, &tile.query);
    let body = shown(answer, false, title_id.clone());
    view! {
        li(class="card tile", data-insight=id.to_string(), data-kind=kind.as_str()) {
            div(class="tile-head") {
                div(class="tile-titles") {
                    h3(id=title_id, class="tile-title") { (tile.name) }
                    p(class="tile-about muted") { (described) }
                }
            }
            div(class="tile-body") { (body) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, code: &str) -> ApiError {
        ApiError::Refused {
            status,
            code: code.to_owned(),
            message: "no".to_owned(),
            retry_after_secs: None,
        }
    }

    #[test]
    fn a_password_is_asked_for_again_when_wrong_and_a_revoked_link_is_missing() {
        assert_eq!(
            stage_of(&refused(401, "share_password"), false),
            Stage::Password { wrong: false }
        );
        assert_eq!(
            stage_of(&refused(401, "share_password"), true),
            Stage::Password { wrong: true }
        );
        assert_eq!(stage_of(&refused(404, "not_found"), true), Stage::Missing);
        assert!(matches!(
            stage_of(&refused(503, "unavailable"), false),
            Stage::Failed(_)
        ));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_shared_page_shows_nothing_of_the_app_around_it() {
        let html = sycamore::web::render_to_string(|| {
            crate::shell(
                crate::route::Route::Shared,
                crate::session::Session::new(crate::session::Auth::SignedOut),
            )
        });
        assert!(html.contains("id=\"shared-page\""), "{html}");
        assert!(!html.contains("class=\"masthead\""), "{html}");
        assert!(!html.contains("href=\"/analytics\""), "{html}");
    }
}
