//! The calls of one row, card or form (of the admin panel, or a note under the trends chart),
//! made one at a time: it is busy while one runs (its buttons disabled, "Saving…" shown) and
//! shows the last one's failure.

use std::future::Future;

use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::api::{self, Action, ApiError};
use crate::session::Session;

/// Whether a call of the row or card runs, and how its last one failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Busy {
    pub(crate) session: Session,
    pub(crate) busy: Signal<bool>,
    pub(crate) error: Signal<Option<String>>,
}

impl Busy {
    /// Nothing running, nothing failed.
    pub(crate) fn new(session: Session) -> Self {
        Self {
            session,
            busy: create_signal(false),
            error: create_signal(None),
        }
    }

    /// Runs `call` with `path` and the token unless a call runs already: `done` takes its
    /// answer; on a failure the error shows and `failed` runs.
    pub(crate) fn run<T: 'static, Fut>(
        self,
        path: String,
        call: impl Fn(String, String) -> Fut + 'static,
        done: impl FnOnce(T) + 'static,
        failed: impl FnOnce() + 'static,
    ) where
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let Busy {
            session,
            busy,
            error,
        } = self;
        if !busy.is_alive() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let answer = session.authorized(|token| call(path.clone(), token)).await;
            if !busy.is_alive() {
                return;
            }
            busy.set(false);
            match answer {
                Ok(answer) => done(answer),
                Err(err) => {
                    error.set(Some(api::explain(&err, Action::Work)));
                    failed();
                }
            }
        });
    }
}
