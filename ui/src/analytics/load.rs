//! A query's answer as the analytics page shows it: loading, failed or ready, of which only
//! the answer to the last call asked for counts.

use serde::de::DeserializeOwned;
use sycamore::prelude::*;

use crate::api::{self, Action};
use crate::session::Session;

/// A call's state as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Load<T> {
    Idle,
    Loading,
    Ready(T),
    Failed(String),
}

/// The answer of one kind of call, of which only the last one asked for counts.
#[derive(Debug)]
pub(crate) struct Loader<T: 'static> {
    pub(crate) state: Signal<Load<T>>,
    /// The call whose answer is awaited or shown.
    wanted: Signal<String>,
    /// The same call: its path and JSON body, for its answer as CSV and to run it again.
    call: Signal<Option<(String, Option<serde_json::Value>)>>,
    /// Bumped by each call sent: only the answer to the last one is shown.
    generation: Signal<u64>,
}

impl<T> Clone for Loader<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Loader<T> {}

impl<T: DeserializeOwned + Clone + 'static> Loader<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: create_signal(Load::Idle),
            wanted: create_signal(String::new()),
            call: create_signal(None),
            generation: create_signal(0),
        }
    }

    /// `GET path`, unless that is what is shown already.
    pub(crate) fn get(self, session: Session, path: String) {
        self.run(session, path, None);
    }

    /// `POST path` with `body`, unless that is what is shown already.
    pub(crate) fn post(self, session: Session, path: String, body: serde_json::Value) {
        self.run(session, path, Some(body));
    }

    /// Forgets the answer, so the next call runs even when it is the same.
    pub(crate) fn reset(self) {
        self.wanted.set(String::new());
        self.generation.update_silent(|g| *g += 1);
        self.state.set(Load::Idle);
    }

    fn run(self, session: Session, path: String, body: Option<serde_json::Value>) {
        let key = format!(
            "{path} {}",
            body.as_ref().map(ToString::to_string).unwrap_or_default()
        );
        let failed = self.state.with_untracked(|s| matches!(s, Load::Failed(_)));
        if self.wanted.get_clone_untracked() == key && !failed {
            return;
        }
        self.wanted.set(key);
        self.call.set(Some((path, body)));
        self.state.set(Load::Loading);
        self.refresh(session);
    }

    /// Sends the call asked for last (again), keeping what is shown until its answer arrives:
    /// after a change the page made to what the call reads. Only the answer to the call sent
    /// last is shown.
    pub(crate) fn refresh(self, session: Session) {
        let Some((path, body)) = self.call.get_clone_untracked() else {
            return;
        };
        let generation = self.generation.update_silent(|g| {
            *g += 1;
            *g
        });
        if !cfg!(target_arch = "wasm32") {
            return;
        }
        js_sys::futures::spawn_local(async move {
            let outcome = session
                .authorized(|token| {
                    let path = path.clone();
                    let body = body.clone();
                    async move {
                        match body {
                            None => api::get::<T>(&path, &token).await,
                            Some(body) => api::send("POST", &path, &body, &token).await,
                        }
                    }
                })
                .await;
            if !self.state.is_alive() || self.generation.get_untracked() != generation {
                return;
            }
            self.state.set(match outcome {
                Ok(answer) => Load::Ready(answer),
                Err(err) => Load::Failed(api::explain(&err, Action::Work)),
            });
        });
    }
}

impl<T: 'static> Loader<T> {
    /// A "Download CSV" button for the answer shown ([`csv_button`]).
    pub(crate) fn csv_button(self, session: Session, name: &'static str) -> View {
        csv_button(session, name, move || self.call())
    }

    /// The call whose answer is awaited or shown (untracked): its path and JSON body.
    pub(crate) fn call(self) -> Option<(String, Option<serde_json::Value>)> {
        self.call.get_clone_untracked()
    }
}

/// A "Download CSV" button: the answer to the call `call` gives (a path and a JSON body), as
/// the CSV file `name`.csv (the API's `format=csv` on the same call; the explorer's has every
/// matching event).
pub(crate) fn csv_button(
    session: Session,
    name: &'static str,
    call: impl Fn() -> Option<(String, Option<serde_json::Value>)> + Copy + 'static,
) -> View {
    let label = format!("Download {name} as CSV");
    view! {
        button(r#type="button", class="csv-button", aria-label=label,
            on:click=move |_| download(session, name, call())) { "Download CSV" }
    }
}

fn download(
    session: Session,
    name: &'static str,
    call: Option<(String, Option<serde_json::Value>)>,
) {
    let Some((path, body)) = call else {
        return;
    };
    if !cfg!(target_arch = "wasm32") {
        return;
    }
    let path = format!("{path}&format=csv");
    let method = if body.is_some() { "POST" } else { "GET" };
    let body = body.map(|body| body.to_string());
    js_sys::futures::spawn_local(async move {
        let outcome = session
            .authorized(|token| {
                let (path, body) = (path.clone(), body.clone());
                async move {
                    api::download::file(method, &path, body, &token, &format!("{name}.csv")).await
                }
            })
            .await;
        if let Err(err) = outcome {
            web_sys::console::warn_1(&api::explain(&err, Action::Work).into());
        }
    });
}

/// The loading line, the error or what `ready` makes of the answer.
pub(crate) fn show<T: Clone + 'static>(
    load: Signal<Load<T>>,
    loading: &'static str,
    ready: impl Fn(T) -> View + Copy + 'static,
) -> View {
    view! {
        (move || match load.get_clone() {
            Load::Idle => view! {},
            Load::Loading => view! { p(class="status", role="status") { (loading) } },
            Load::Failed(message) => view! { p(class="form-error", role="alert") { (message) } },
            Load::Ready(answer) => ready(answer),
        })
    }
}
