//! Lists the API gives a page at a time (the explorer's events, the persons, a person's
//! events): the first page replaces what is shown, "Load more" adds the next one, and only the
//! answers to the query shown now count.

use contract::query::{EventView, EventsPage, PersonResponse, PersonView, PersonsPage};
use serde::de::DeserializeOwned;
use sycamore::prelude::*;

use crate::api::{self, Action};
use crate::session::Session;

/// An answer that is one page of a list.
pub(crate) trait Paged: DeserializeOwned + 'static {
    /// What the list is of.
    type Item: Clone + PartialEq + 'static;
    /// What the answer says besides the list (the person whose events they are).
    type Head: Clone + PartialEq + 'static;
    fn split(self) -> (Self::Head, Vec<Self::Item>, Option<String>);
}

impl Paged for EventsPage {
    type Item = EventView;
    type Head = ();
    fn split(self) -> ((), Vec<EventView>, Option<String>) {
        ((), self.events, self.next_cursor)
    }
}

impl Paged for PersonsPage {
    type Item = PersonView;
    type Head = ();
    fn split(self) -> ((), Vec<PersonView>, Option<String>) {
        ((), self.persons, self.next_cursor)
    }
}

impl Paged for PersonResponse {
    type Item = EventView;
    type Head = PersonView;
    fn split(self) -> (PersonView, Vec<EventView>, Option<String>) {
        (self.person, self.events, self.next_cursor)
    }
}

/// What a list shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rows<H, T> {
    Loading,
    Shown {
        head: H,
        items: Vec<T>,
        /// The cursor of the next page, when there is one.
        next: Option<String>,
        /// The next page is on its way.
        more: bool,
    },
    Failed {
        message: String,
        /// The API's status, when it answered.
        status: Option<u16>,
    },
}

/// A list loaded a page at a time.
#[derive(Debug)]
pub(crate) struct Pager<P: Paged> {
    session: Session,
    pub(crate) rows: Signal<Rows<P::Head, P::Item>>,
    /// The query shown, without a cursor; an answer to another one is dropped.
    wanted: Signal<Option<String>>,
}

impl<P: Paged> Clone for Pager<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Paged> Copy for Pager<P> {}

impl<P: Paged> Pager<P> {
    pub(crate) fn new(session: Session) -> Self {
        Self {
            session,
            rows: create_signal(Rows::Loading),
            wanted: create_signal(None),
        }
    }

    /// Shows the first page of `base` (a path with its query string), nothing for `None`.
    pub(crate) fn show(self, base: Option<String>) {
        self.wanted.set(base.clone());
        self.rows.set(Rows::Loading);
        if let Some(base) = base {
            self.fetch(base, None);
        }
    }

    /// Asks for the next page, unless one is on its way.
    pub(crate) fn more(self) {
        let next = self.rows.with_untracked(|r| match r {
            Rows::Shown {
                next: Some(next),
                more: false,
                ..
            } => Some(next.clone()),
            _ => None,
        });
        if let (Some(next), Some(base)) = (next, self.wanted.get_clone_untracked()) {
            self.rows.update(|r| {
                if let Rows::Shown { more, .. } = r {
                    *more = true;
                }
            });
            self.fetch(base, Some(next));
        }
    }

    /// Asks for the page of `base` after `cursor` (the first without one): a first page
    /// replaces the rows, a later one is added to them.
    fn fetch(self, base: String, cursor: Option<String>) {
        let url = match &cursor {
            Some(cursor) => {
                let joint = if base.contains('?') { '&' } else { '?' };
                format!("{base}{joint}cursor={}", api::encode_component(cursor))
            }
            None => base.clone(),
        };
        if !cfg!(target_arch = "wasm32") {
            return;
        }
        let Pager {
            session,
            rows,
            wanted,
        } = self;
        js_sys::futures::spawn_local(async move {
            let answer = session
                .authorized(|token| {
                    let url = url.clone();
                    async move { api::get::<P>(&url, &token).await }
                })
                .await;
            if !rows.is_alive() || wanted.with_untracked(|w| w.as_deref() != Some(base.as_str())) {
                return;
            }
            rows.update(|rows| match answer {
                Ok(answer) => {
                    let (head, page, next) = answer.split();
                    let mut items = match (&mut *rows, cursor.is_some()) {
                        (Rows::Shown { items, .. }, true) => std::mem::take(items),
                        _ => Vec::new(),
                    };
                    items.extend(page);
                    *rows = Rows::Shown {
                        head,
                        items,
                        next,
                        more: false,
                    };
                }
                Err(err) => {
                    *rows = Rows::Failed {
                        message: api::explain(&err, Action::Work),
                        status: err.status(),
                    };
                }
            });
        });
    }
}

/// The "Load more" button of a list whose rows are `rows`, when there is more to load.
pub(crate) fn more_button<P: Paged>(pager: Pager<P>, id: &'static str) -> View {
    let (next, more) = pager.rows.with(|r| match r {
        Rows::Shown { next, more, .. } => (next.is_some(), *more),
        _ => (false, false),
    });
    if !next {
        return view! {};
    }
    view! {
        button(id=id, r#type="button", disabled=more, on:click=move |_| pager.more()) {
            (if more { "Loading…" } else { "Load more" })
        }
    }
}
