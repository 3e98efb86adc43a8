//! The app measures itself: pages opened and what people click are events of the built-in
//! project, sent through `POST /api/events` with the signed-in user's token. Events wait in a
//! queue and leave in batches, every second or as soon as a batch is full; when the page is hidden
//! or closed, what is queued (up to the browsers' 64 KiB quota) also leaves at once in `keepalive`
//! requests, which the browser completes after the page is gone.
//!
//! Each event carries its own UUID, so a batch sent again after a failure is stored once.

use contract::event::NativeAccepted;
use js_sys::futures::spawn_local;
use serde_json::{Map, Value, json};
use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::api::{self, ApiError};
use crate::session::Session;

/// Where the events go.
const EVENTS_PATH: &str = "/api/events";
/// Most events in one request (ingest takes up to 1000; a `keepalive` body must stay under
/// 64 KiB, and 50 small events do).
const BATCH: usize = 50;
/// How often the queue is sent while the page is open.
const FLUSH_EVERY_MS: i32 = 1_000;
/// Bytes of `keepalive` bodies sent as the page is left: under the browsers' 64 KiB quota.
const KEEPALIVE_BUDGET_BYTES: usize = 60 * 1024;
/// Most events kept while they cannot be sent (the oldest go first).
const MAX_QUEUED: usize = 1_000;
/// The library name events carry, as PostHog's SDKs put theirs in `$lib`.
pub(crate) const LIB: &str = "event-analytics-web";

/// The queue and what became of it, shared through the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tracker {
    session: Session,
    queue: Signal<Vec<Value>>,
    /// A request is on its way: the next flush waits for it, so batches stay in order.
    sending: Signal<bool>,
    /// Failed sends in a row, and when (ms since the epoch) the next may start: a failing API
    /// is tried again after 2, 4, 8… seconds (at most 30), not every second.
    failures: Signal<u32>,
    retry_at_ms: Signal<f64>,
    /// Events ingest stored since the page opened.
    sent: Signal<u64>,
    /// Why the last batch could not be sent, while it waits to be sent again.
    problem: Signal<Option<String>>,
    /// One per page load: events of one visit share it.
    session_id: Signal<String>,
}

impl Tracker {
    pub(crate) fn new(session: Session) -> Self {
        Self {
            session,
            queue: create_signal(Vec::new()),
            sending: create_signal(false),
            failures: create_signal(0),
            retry_at_ms: create_signal(0.0),
            sent: create_signal(0),
            problem: create_signal(None),
            session_id: create_signal(uuid::Uuid::now_v7().to_string()),
        }
    }

    /// Events waiting to be sent (tracked).
    pub(crate) fn waiting(self) -> usize {
        self.queue.with(Vec::len)
    }

    /// Events stored since the page opened (tracked).
    pub(crate) fn sent(self) -> u64 {
        self.sent.get()
    }

    /// Why sending fails at the moment (tracked).
    pub(crate) fn problem(self) -> Option<String> {
        self.problem.get_clone()
    }

    /// Queues `event` with `properties` and what the page knows about the visit.
    pub(crate) fn capture(self, event: &str, properties: Map<String, Value>) {
        let mut all = visit_properties();
        all.insert(
            "$session_id".to_owned(),
            Value::String(self.session_id.get_clone_untracked()),
        );
        all.extend(properties);
        let event = json!({
            "event": event,
            "uuid": uuid::Uuid::new_v4().to_string(),
            "timestamp": now_rfc3339(),
            "properties": all,
        });
        self.queue.update(|queue| {
            queue.push(event);
            let over = queue.len().saturating_sub(MAX_QUEUED);
            queue.drain(..over);
        });
        if self.queue.with_untracked(Vec::len) >= BATCH {
            self.flush();
        }
    }

    /// Sends the oldest batch, unless one is on its way already.
    pub(crate) fn flush(self) {
        if self.sending.get_untracked() || self.queue.with_untracked(Vec::is_empty) {
            return;
        }
        if now_ms() < self.retry_at_ms.get_untracked() {
            return;
        }
        if self.session.token().is_none() {
            // Signed out: nobody to send them as.
            return;
        }
        let batch: Vec<Value> = self
            .queue
            .with_untracked(|queue| queue.iter().take(BATCH).cloned().collect());
        // The queue may change while the batch is on its way (events added, the oldest dropped):
        // what leaves it afterwards is named by id, never by position.
        let ids: Vec<String> = batch
            .iter()
            .map(|event| event_uuid(event).to_owned())
            .collect();
        let body = batch_body(batch, &now_rfc3339());
        self.sending.set(true);
        spawn_local(async move {
            let outcome = self
                .session
                .authorized(|token| {
                    let body = &body;
                    async move {
                        api::send::<_, NativeAccepted>("POST", EVENTS_PATH, body, &token).await
                    }
                })
                .await;
            let done = match outcome {
                Ok(answer) => {
                    self.sent.update(|sent| *sent += answer.accepted as u64);
                    for rejected in &answer.rejected {
                        web_sys::console::warn_1(
                            &format!("event refused by ingest: {}", rejected.error).into(),
                        );
                    }
                    self.problem.set(None);
                    true
                }
                Err(err) if is_worth_retrying(&err) => {
                    self.problem
                        .set(Some(api::explain(&err, api::Action::Work)));
                    let failures = self.failures.update_silent(|f| {
                        *f = f.saturating_add(1);
                        *f
                    });
                    self.retry_at_ms.set(now_ms() + backoff_ms(failures));
                    false
                }
                Err(err) => {
                    // Refused as a whole (a malformed batch, say): sending it again would be
                    // refused again.
                    web_sys::console::warn_1(&format!("events refused: {err:?}").into());
                    self.problem.set(None);
                    true
                }
            };
            if done {
                self.failures.set(0);
                self.retry_at_ms.set(0.0);
                self.queue.update(|queue| {
                    queue.retain(|event| !ids.iter().any(|id| id == event_uuid(event)))
                });
            }
            self.sending.set(false);
        });
    }

    /// Sends what is queued now in `keepalive` requests, which the browser completes even when
    /// the page is gone. The events stay queued: if the page lives on (it was only hidden), the
    /// next flush sends them again, and ingest stores each id once. Browsers allow 64 KiB of
    /// `keepalive` bodies in flight, so the oldest events go first, up to a budget under that.
    fn flush_on_leave(self) {
        let Some(token) = self.session.token() else {
            return;
        };
        let queued = self.queue.with_untracked(|queue| queue.clone());
        let mut budget = KEEPALIVE_BUDGET_BYTES;
        for batch in queued.chunks(BATCH) {
            let body = batch_body(batch.to_vec(), &now_rfc3339());
            let size = body.to_string().len();
            if size > budget {
                return;
            }
            budget -= size;
            if api::send_keepalive(EVENTS_PATH, &body, &token).is_err() {
                return;
            }
        }
    }

    /// Starts the timer and the page-hide listeners (in a browser only).
    pub(crate) fn start(self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let tick = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || self.flush());
        let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            FLUSH_EVERY_MS,
        );
        let leave = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
            let hidden = web_sys::window()
                .and_then(|window| window.document())
                .is_none_or(|document| {
                    document.visibility_state() == web_sys::VisibilityState::Hidden
                });
            if hidden {
                self.flush_on_leave();
            }
        });
        if let Some(document) = window.document() {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                leave.as_ref().unchecked_ref(),
            );
        }
        let _ = window.add_event_listener_with_callback("pagehide", leave.as_ref().unchecked_ref());
        // Both live as long as the page.
        tick.forget();
        leave.forget();
    }
}

/// The id an event was queued with.
fn event_uuid(event: &Value) -> &str {
    event["uuid"].as_str().unwrap_or_default()
}

/// Failures that may pass: no answer, the server failing, a rate limit, a session being renewed.
fn is_worth_retrying(error: &ApiError) -> bool {
    match error.status() {
        None => true,
        Some(status) => status >= 500 || status == 429 || status == 401 || status == 408,
    }
}

/// The request body: PostHog's batch shape, which `POST /api/events` reads.
pub(crate) fn batch_body(events: Vec<Value>, sent_at: &str) -> Value {
    json!({ "batch": events, "sent_at": sent_at })
}

/// Browser and operating system named by a user agent, as PostHog's `$browser` and `$os`.
pub(crate) fn browser_and_os(user_agent: &str) -> (&'static str, &'static str) {
    let browser = if user_agent.contains("Edg/") {
        "Microsoft Edge"
    } else if user_agent.contains("OPR/") {
        "Opera"
    } else if user_agent.contains("Firefox/") {
        "Firefox"
    } else if user_agent.contains("Chrome/") || user_agent.contains("CriOS/") {
        "Chrome"
    } else if user_agent.contains("Safari/") {
        "Safari"
    } else {
        "Other"
    };
    let os = if user_agent.contains("Android") {
        "Android"
    } else if user_agent.contains("iPhone") || user_agent.contains("iPad") {
        "iOS"
    } else if user_agent.contains("Windows") {
        "Windows"
    } else if user_agent.contains("Mac OS X") {
        "Mac OS X"
    } else if user_agent.contains("Linux") {
        "Linux"
    } else {
        "Other"
    };
    (browser, os)
}

/// PostHog's `$device_type` by the width of the window.
pub(crate) fn device_type(width_px: f64) -> &'static str {
    if width_px < 768.0 {
        "Mobile"
    } else if width_px < 1024.0 {
        "Tablet"
    } else {
        "Desktop"
    }
}

/// An address as the app records it: an invite link's, a shared link's or a password-reset
/// link's token left out, since each is a credential and the app's own events are read by every
/// member of the built-in project.
fn without_secrets(address: String) -> String {
    for secret in ["/invite/", "/shared/", "/reset/"] {
        if let Some(at) = address.find(secret) {
            return format!("{}{secret}…", &address[..at]);
        }
    }
    address
}

/// What every event of this page says about the visit: where, from where, with what.
fn visit_properties() -> Map<String, Value> {
    let mut properties = Map::new();
    properties.insert("$lib".to_owned(), Value::from(LIB));
    if !cfg!(target_arch = "wasm32") {
        return properties;
    }
    let Some(window) = web_sys::window() else {
        return properties;
    };
    let location = window.location();
    let mut text = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            properties.insert(key.to_owned(), Value::String(value));
        }
    };
    text("$current_url", location.href().ok().map(without_secrets));
    text("$host", location.host().ok());
    text("$pathname", location.pathname().ok().map(without_secrets));
    text(
        "$referrer",
        window
            .document()
            .map(|document| without_secrets(document.referrer())),
    );
    let user_agent = window.navigator().user_agent().unwrap_or_default();
    let (browser, os) = browser_and_os(&user_agent);
    text("$browser", Some(browser.to_owned()));
    text("$os", Some(os.to_owned()));
    let width = window
        .inner_width()
        .ok()
        .and_then(|width| width.as_f64())
        .unwrap_or_default();
    text("$device_type", Some(device_type(width).to_owned()));
    properties.insert("$screen_width".to_owned(), Value::from(width));
    properties
}

/// How long to wait after `failures` failed sends in a row: 2 s, 4 s, 8 s… at most 30 s.
fn backoff_ms(failures: u32) -> f64 {
    let seconds = 2_u32.saturating_pow(failures.min(5)).min(30);
    f64::from(seconds) * 1000.0
}

/// Now, in ms since the epoch (0 outside a browser).
fn now_ms() -> f64 {
    if cfg!(target_arch = "wasm32") {
        js_sys::Date::now()
    } else {
        0.0
    }
}

/// Now, as RFC 3339 in UTC (the browser's clock; ingest corrects its skew with `sent_at`).
fn now_rfc3339() -> String {
    if cfg!(target_arch = "wasm32") {
        js_sys::Date::new_0().to_iso_string().into()
    } else {
        "1970-01-01T00:00:00.000Z".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_name_the_browser_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                ("Chrome", "Linux"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                ("Safari", "iOS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                ("Microsoft Edge", "Windows"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0",
                ("Firefox", "Mac OS X"),
            ),
            ("curl/8.5.0", ("Other", "Other")),
        ];
        for (user_agent, expected) in cases {
            assert_eq!(browser_and_os(user_agent), expected, "{user_agent}");
        }
    }

    #[test]
    fn devices_by_width() {
        assert_eq!(device_type(390.0), "Mobile");
        assert_eq!(device_type(800.0), "Tablet");
        assert_eq!(device_type(1280.0), "Desktop");
    }

    #[test]
    fn a_batch_is_posthogs_shape() {
        let body = batch_body(
            vec![json!({"event": "a"}), json!({"event": "b"})],
            "2026-11-30T12:00:00Z",
        );
        assert_eq!(body["batch"].as_array().map(Vec::len), Some(2));
        assert_eq!(body["sent_at"], "2026-11-30T12:00:00Z");
    }

    #[test]
    fn a_failing_api_is_tried_again_less_and_less_often() {
        let waits: Vec<f64> = (1..=7).map(backoff_ms).collect();
        assert_eq!(
            waits,
            [2000.0, 4000.0, 8000.0, 16000.0, 30000.0, 30000.0, 30000.0]
        );
    }

    #[test]
    fn failures_that_may_pass_are_retried_and_refusals_are_not() {
        let refused = |status| ApiError::Refused {
            status,
            code: String::new(),
            message: String::new(),
            retry_after_secs: None,
        };
        assert!(is_worth_retrying(&ApiError::Unreachable(
            "offline".to_owned()
        )));
        for status in [401, 429, 503, 504] {
            assert!(is_worth_retrying(&refused(status)), "{status}");
        }
        for status in [400, 403, 413] {
            assert!(!is_worth_retrying(&refused(status)), "{status}");
        }
    }

    #[test]
    fn an_invite_or_shared_links_token_is_never_recorded() {
        assert_eq!(
            without_secrets("https://a.example/invite/SECRET-token?x=1".to_owned()),
            "https://a.example/invite/…"
        );
        assert_eq!(without_secrets("/invite/SECRET".to_owned()), "/invite/…");
        assert_eq!(without_secrets("/analytics".to_owned()), "/analytics");
        assert_eq!(
            without_secrets("https://a.example/shared/SECRET?embed=1#top".to_owned()),
            "https://a.example/shared/…"
        );
        assert_eq!(without_secrets("/shared/SECRET/".to_owned()), "/shared/…");
        assert_eq!(
            without_secrets("https://a.example/reset/SECRET".to_owned()),
            "https://a.example/reset/…"
        );
    }
}
