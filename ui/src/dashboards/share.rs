//! Sharing an open dashboard: a link anyone may open to see its tiles read-only, optionally
//! behind a password and embeddable in the pages of a few sites. The new link is shown once,
//! in full, with a Copy button; the live links are listed (never their token) with Revoke.

use std::rc::Rc;

use contract::auth::{CreateShareRequest, CreatedShare, MAX_EMBED_ORIGINS, ShareList, ShareView};
use sycamore::prelude::*;
use uuid::Uuid;

use super::state::Boards;
use crate::admin::projects::copy::copy_button;
use crate::analytics::load::{Load, Loader};
use crate::api;
use crate::browser::origin;
use crate::busy::Busy;
use crate::confirm::{Ask, Confirm};

/// The fewest and most characters of a link's password.
const PASSWORD_CHARS: (usize, usize) = (8, 200);

/// The request for a link with `password` (none when empty) embeddable on the origins
/// `origins` lists (separated by spaces or commas); or the sentence saying what is wrong.
pub(crate) fn request(password: &str, origins: &str) -> Result<CreateShareRequest, String> {
    let length = password.chars().count();
    let (least, most) = PASSWORD_CHARS;
    if length > 0 && !(least..=most).contains(&length) {
        return Err(format!("A password has {least} to {most} characters"));
    }
    let embed_origins: Vec<String> = origins
        .split([' ', ',', '\n'])
        .map(|origin| origin.trim().trim_end_matches('/'))
        .filter(|origin| !origin.is_empty())
        .map(str::to_owned)
        .collect();
    if embed_origins.len() > MAX_EMBED_ORIGINS {
        return Err(format!(
            "A link is embeddable on {MAX_EMBED_ORIGINS} sites at most"
        ));
    }
    if let Some(wrong) = embed_origins.iter().find(|o| !is_origin(o)) {
        return Err(format!(
            "“{wrong}” is not a site's origin, such as https://blog.example.com"
        ));
    }
    Ok(CreateShareRequest {
        password: (length > 0).then(|| password.to_owned()),
        embed_origins,
    })
}

/// `https://host[:port]` or `http://…`, without a path.
fn is_origin(text: &str) -> bool {
    let host = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    host.is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', ' ']))
}

/// The links of one dashboard and the one created last.
#[derive(Debug, Clone, Copy)]
struct Links {
    boards: Boards,
    board: Uuid,
    list: Loader<ShareList>,
    created: Signal<Option<CreatedShare>>,
}

impl Links {
    /// `…/dashboards/{board}/shares`, or a link's path under it.
    fn path(self, share: Option<Uuid>) -> String {
        let list = self
            .boards
            .path(&format!("dashboards/{}/shares", self.board));
        match share {
            Some(share) => format!("{list}/{share}"),
            None => list,
        }
    }
}

#[component(inline_props)]
pub(crate) fn SharePanel(board: Uuid) -> View {
    let boards = use_context::<Boards>();
    let links = Links {
        boards,
        board,
        list: Loader::new(),
        created: create_signal(None),
    };
    links.list.get(boards.session, links.path(None));
    view! {
        section(id="share-panel", class="card share-panel", aria-labelledby="share-title") {
            h4(id="share-title") { "Share this dashboard" }
            p(class="hint") {
                "Anyone with a link sees this dashboard's tiles, read-only, and nothing else of "
                "the project. Revoke a link to end it."
            }
            ShareForm(links=links)
            LiveLinks(links=links)
        }
    }
}

/// The password and the sites, and "Create link"; then the link, once.
#[component(inline_props)]
fn ShareForm(links: Links) -> View {
    let password = create_signal(String::new());
    let origins = create_signal(String::new());
    let calls = Busy::new(links.boards.session);
    let Busy { busy, error, .. } = calls;
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let body = match request(
            &password.get_clone_untracked(),
            &origins.get_clone_untracked(),
        ) {
            Ok(body) => body,
            Err(message) => return error.set(Some(message)),
        };
        calls.run(
            links.path(None),
            move |path, token| {
                let body = body.clone();
                async move { api::send::<_, CreatedShare>("POST", &path, &body, &token).await }
            },
            move |created| {
                if password.is_alive() {
                    password.set(String::new());
                    origins.set(String::new());
                }
                links.created.set(Some(created));
                links.list.refresh(links.boards.session);
            },
            || {},
        );
    };
    let (least, most) = (PASSWORD_CHARS.0.to_string(), PASSWORD_CHARS.1.to_string());
    view! {
        form(id="share-form", class="share-form", on:submit=submit,
            aria-busy=move || busy.get().to_string()) {
            div(class="field") {
                label(r#for="share-password") { "Password " span(class="optional") { "(optional)" } }
                input(id="share-password", r#type="password", autocomplete="new-password",
                    minlength=least, maxlength=most, aria-describedby="share-password-hint",
                    bind:value=password)
                p(id="share-password-hint", class="hint") {
                    "8 to 200 characters, asked of whoever opens the link."
                }
            }
            div(class="field") {
                label(r#for="share-origins") { "Embed on " span(class="optional") { "(optional)" } }
                input(id="share-origins", r#type="text", autocomplete="off",
                    placeholder="https://blog.example.com", aria-describedby="share-origins-hint",
                    bind:value=origins)
                p(id="share-origins-hint", class="hint") {
                    "Sites whose pages may show the dashboard in an iframe, separated by spaces."
                }
            }
            button(id="share-create", r#type="submit", disabled=busy) {
                (move || if busy.get() { "Creating…" } else { "Create link" })
            }
        }
        (move || error.get_clone().map(|message| view! {
            p(id="share-error", class="form-error", role="alert") { (message) }
        }))
        (move || links.created.get_clone().map(|created| created_link(&created)))
    }
}

/// The link just created, read-only with a Copy button: its token is shown only this once.
fn created_link(created: &CreatedShare) -> View {
    let link = format!("{}{}", origin(), created.link);
    let copied = link.clone();
    let copy = copy_button(
        "share-copy",
        "Copy",
        "Copy the shared link".to_owned(),
        move || copied.clone(),
    );
    let guarded = if created.share.has_password {
        " Whoever opens it is asked the password."
    } else {
        ""
    };
    view! {
        div(class="share-created invite-created", role="status") {
            label(r#for="share-link") { "Shared link" }
            div(class="inline-field") {
                input(id="share-link", class="invite-link", r#type="text", readonly=true,
                    value=link, aria-describedby="share-link-note")
                (copy)
            }
            p(id="share-link-note", class="hint invite-note") {
                "Shown only once: copy it now." (guarded)
            }
        }
    }
}

/// The dashboard's live links, newest first, each with Revoke (asked first).
#[component(inline_props)]
fn LiveLinks(links: Links) -> View {
    let shown = create_memo(move || {
        links.list.state.with(|state| match state {
            Load::Ready(list) => list.shares.clone(),
            _ => Vec::new(),
        })
    });
    let status = move || match links.list.state.get_clone() {
        Load::Loading => view! { p(class="status", role="status") { "Loading the links…" } },
        Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
        Load::Ready(list) if list.shares.is_empty() => view! {
            p(id="no-shares", class="status") { "No live links." }
        },
        Load::Idle | Load::Ready(_) => view! {},
    };
    view! {
        h5(id="shares-title") { "Live links" }
        (status)
        ul(id="share-list", class="share-list", aria-labelledby="shares-title") {
            Keyed(
                list=shown,
                view=move |share| view! { ShareRow(share=share, links=links) },
                key=|share: &ShareView| share.id,
            )
        }
    }
}

#[component(inline_props)]
fn ShareRow(share: ShareView, links: Links) -> View {
    let confirm = use_context::<Confirm>();
    let calls = Busy::new(links.boards.session);
    let Busy { busy, error, .. } = calls;
    let id = share.id;
    let prefix = format!("{}…", share.prefix);
    let at = share.created_at;
    let created = format!(
        "created {}{}",
        crate::format::date_label(at.year(), u8::from(at.month()), at.day()),
        if share.created_by.is_empty() {
            String::new()
        } else {
            format!(" by {}", share.created_by)
        }
    );
    let password = if share.has_password {
        "password"
    } else {
        "no password"
    };
    let embeds = match share.embed_origins.len() {
        0 => "not embeddable".to_owned(),
        _ => format!("embeddable on {}", share.embed_origins.join(", ")),
    };
    let asked = prefix.clone();
    let revoke = move |_| {
        confirm.ask(Ask {
            title: "Revoke this link?".to_owned(),
            message: format!(
                "Whoever opens the link starting {asked} will be told it does not exist, and \
                 pages embedding it stop showing the dashboard."
            ),
            confirm: "Revoke link".to_owned(),
            on_confirm: Rc::new(move || {
                calls.run(
                    links.path(Some(id)),
                    |path, token| async move {
                        api::send_without_answer::<()>("DELETE", &path, None, &token).await
                    },
                    move |()| links.list.refresh(links.boards.session),
                    || {},
                );
            }),
        });
    };
    let label = format!("Revoke the link {prefix}");
    view! {
        li(class="share-row", data-share=id.to_string()) {
            code(class="share-prefix") { (prefix) }
            span(class="chip share-password") { (password) }
            span(class="muted share-embeds") { (embeds) }
            span(class="muted share-created-at") { (created) }
            button(r#type="button", class="share-revoke danger", aria-label=label,
                disabled=busy, on:click=revoke) { "Revoke" }
            (move || error.get_clone().map(|message| view! {
                p(class="row-error form-error", role="alert") { (message) }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_takes_an_optional_password_and_site_origins() {
        let open = request("", "").expect("no password, no sites");
        assert_eq!(open.password, None);
        assert!(open.embed_origins.is_empty());
        let guarded = request(
            "correct horse",
            "https://blog.example.com/, http://localhost:8080",
        )
        .expect("a request");
        assert_eq!(guarded.password.as_deref(), Some("correct horse"));
        assert_eq!(
            guarded.embed_origins,
            ["https://blog.example.com", "http://localhost:8080"]
        );
        assert_eq!(
            request("short", "").expect_err("too short"),
            "A password has 8 to 200 characters"
        );
        assert!(request("", "blog.example.com").is_err());
        assert!(request("", "https://blog.example.com/posts").is_err());
        let many = (0..=MAX_EMBED_ORIGINS)
            .map(|i| format!("https://s{i}.example.com"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(request("", &many).is_err());
    }
}
