//! The live tab: `GET /api/query/live` read as a stream. EventSource cannot send the
//! Authorization header query requires, so the app fetches the stream itself and parses its
//! Server-Sent Events; leaving the tab or the page aborts the request. The server ends the feed
//! when the token it was opened with expires (or the caller's access is withdrawn): the tab then
//! opens it again with a fresh token, and after a dropped connection too.

use contract::query::LiveEndReason;
use sycamore::prelude::*;

use super::charts;
use super::explorer::person_link;
use super::feed::{Ended, FeedItem, read_feed};
use super::page::Page;

/// A feed that stayed open this long is reopened at once when it ends. One that ended sooner is
/// reopened after a pause, doubled each time up to [`MAX_PAUSE_MS`], so a feed that cannot stay
/// open (the service restarting, say) is not asked for in a tight loop.
const STEADY_MS: f64 = 5_000.0;
const FIRST_PAUSE_MS: u32 = 1_000;
const MAX_PAUSE_MS: u32 = 30_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    Connecting,
    Open,
    Failed(String),
}

/// What the tab shows of the feed: how it is connected, the active users and the events.
#[derive(Debug, Clone, Copy)]
struct Live {
    link: Signal<Link>,
    active: Signal<Option<Option<u64>>>,
    feed: Signal<Vec<FeedItem>>,
}

#[component]
pub(crate) fn LiveTab() -> View {
    let page = use_context::<Page>();
    let live = Live {
        link: create_signal(Link::Connecting),
        active: create_signal(None),
        feed: create_signal(Vec::new()),
    };
    let path = create_selector(move || {
        page.view.with(|v| {
            (!v.project.is_empty()).then(|| {
                crate::api::with_query(
                    "/api/query/live",
                    &[("project_id", &v.project), ("include_bots", v.bots_param())],
                )
            })
        })
    });
    create_effect(move || {
        let Some(path) = path.get_clone() else {
            return;
        };
        if !cfg!(target_arch = "wasm32") {
            return;
        }
        live.feed.set(Vec::new());
        live.active.set(None);
        live.link.set(Link::Connecting);
        let controller = web_sys::AbortController::new().ok();
        let signal = controller.as_ref().map(web_sys::AbortController::signal);
        on_cleanup(move || {
            if let Some(controller) = controller {
                controller.abort();
            }
        });
        js_sys::futures::spawn_local(follow_feed(page, live, path, signal));
    });
    view! {
        div(class="live") {
            ActiveUsersCard(active=live.active)
            FeedCard(live=live)
        }
    }
}

/// Keeps the feed at `path` open, reopening it when it ends, until `signal` aborts it.
async fn follow_feed(page: Page, live: Live, path: String, signal: Option<web_sys::AbortSignal>) {
    let Live { link, active, feed } = live;
    // This stream is the page's until the project changes or the tab closes (both abort
    // it): a stream replaced meanwhile must not write over its successor's state.
    let current = {
        let signal = signal.clone();
        move || link.is_alive() && !signal.as_ref().is_some_and(web_sys::AbortSignal::aborted)
    };
    let mut pause_ms = FIRST_PAUSE_MS;
    loop {
        let used = std::cell::RefCell::new(String::new());
        let opened = page
            .session
            .authorized(|token| {
                used.replace(token.clone());
                let (path, signal) = (&path, signal.as_ref());
                async move { crate::api::open_stream(path, &token, signal).await }
            })
            .await;
        let reader = match opened {
            Ok(reader) => reader,
            Err(err) => {
                if current() {
                    link.set(Link::Failed(crate::api::explain(
                        &err,
                        crate::api::Action::Work,
                    )));
                }
                return;
            }
        };
        if !current() {
            let _ = reader.cancel();
            return;
        }
        link.set(Link::Open);
        let opened_at = js_sys::Date::now();
        let ended = read_feed(&reader, &current, active, feed).await;
        let _ = reader.cancel();
        if !current() {
            return;
        }
        let Some(fresh_token) = wants_fresh_token(page, ended, &used.borrow()) else {
            return;
        };
        link.set(Link::Connecting);
        if js_sys::Date::now() - opened_at < STEADY_MS {
            crate::browser::sleep_ms(pause_ms).await;
            pause_ms = (pause_ms * 2).min(MAX_PAUSE_MS);
        } else {
            pause_ms = FIRST_PAUSE_MS;
        }
        if fresh_token && !page.session.refresh().await {
            if current() {
                link.set(Link::Failed(
                    "Your session has ended, sign in again".to_owned(),
                ));
            }
            return;
        }
        if !current() {
            return;
        }
    }
}

/// Whether a feed that `ended` is reopened with a fresh token (`used` opened it); `None` when
/// it is not reopened at all.
fn wants_fresh_token(page: Page, ended: Ended, used: &str) -> Option<bool> {
    match ended {
        Ended::Replaced => None,
        Ended::Closed => Some(false),
        // The session trades its token shortly before expiry, so it usually holds a
        // fresh one already; a refresh is only needed when it still has this one.
        Ended::ByServer(LiveEndReason::TokenExpired) => {
            Some(page.session.token().as_deref() == Some(used))
        }
        // A token issued before the change would still open the feed: only a
        // refresh tells whether the caller may go on (a disabled one is signed out).
        Ended::ByServer(LiveEndReason::AccessRevoked) => Some(true),
    }
}

/// The count of users with a recent event.
#[component(inline_props)]
fn ActiveUsersCard(active: Signal<Option<Option<u64>>>) -> View {
    view! {
        div(class="card ov-figure live-figure") {
            h3 { "Active users" }
            p(class="hint") { "With an event in the last five minutes." }
            p(id="active-users", class="figure-value") {
                (move || match active.get() {
                    None => "…".to_owned(),
                    Some(None) => "unknown".to_owned(),
                    Some(Some(count)) => charts::format_number(count as f64),
                })
            }
        }
    }
}

/// The state of the connection and the events as they arrive, newest first.
#[component(inline_props)]
fn FeedCard(live: Live) -> View {
    let page = use_context::<Page>();
    let Live { link, feed, .. } = live;
    view! {
        div(class="card") {
            h3 { "Events as they arrive" }
            (move || match link.get_clone() {
                Link::Connecting => view! {
                    p(class="status", role="status") { "Connecting to the live feed…" }
                },
                Link::Open => view! {
                    p(class="status", role="status") {
                        (move || if feed.with(Vec::is_empty) {
                            "Connected. Waiting for events…"
                        } else {
                            "Connected."
                        })
                    }
                },
                Link::Failed(message) => view! {
                    p(class="form-error", role="alert") { (message) }
                },
            })
            ul(id="live-feed", class="live-feed", aria-live="polite") {
                Keyed(
                    list=feed,
                    view=move |item: FeedItem| {
                        let when = item.at.get(11..19).unwrap_or_default().to_owned();
                        let who = person_link(page, item.who);
                        view! {
                            li(class="live-item") {
                                span(class="live-time") { (when) }
                                strong(class="live-event") { (item.event) }
                                span(class="live-who") { (who) }
                                span(class="live-path") { (item.path) }
                            }
                        }
                    },
                    key=|item| item.id.clone(),
                )
            }
        }
    }
}
