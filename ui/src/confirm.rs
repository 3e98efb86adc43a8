//! The one confirmation dialog of a page, asked before a change that cannot be undone
//! (deleting a user, revoking a key, erasing a person) and shared through the context.

use std::rc::Rc;

use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::browser::after;

/// A question before a change that cannot be undone.
#[derive(Clone)]
pub(crate) struct Ask {
    pub(crate) title: String,
    pub(crate) message: String,
    /// The confirming button's label: "Delete user", "Revoke key".
    pub(crate) confirm: String,
    pub(crate) on_confirm: Rc<dyn Fn()>,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask")
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// The panel's one confirmation dialog, shared through the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Confirm {
    pending: Signal<Option<Ask>>,
}

impl Confirm {
    pub(crate) fn new() -> Self {
        Self {
            pending: create_signal(None),
        }
    }

    /// Asks `ask`; its action runs only when the admin confirms.
    pub(crate) fn ask(self, ask: Ask) {
        self.pending.set(Some(ask));
    }
}

/// A modal `<dialog>`: the browser traps the focus in it and closes it on Escape. Cancel has
/// the focus first, so Enter does not destroy anything by accident; the focus goes back to the
/// button that opened it.
#[component]
pub(crate) fn ConfirmDialog() -> View {
    let confirm = use_context::<Confirm>();
    let dialog = create_node_ref();
    let close = move || confirm.pending.set(None);
    let view = view! {
        dialog(r#ref=dialog, id="confirm-dialog", class="confirm-dialog", aria-labelledby="confirm-title",
            aria-describedby="confirm-message", on:close=move |_| close()) {
            (move || confirm.pending.get_clone().map(|ask| {
                let title = ask.title.clone();
                let message = ask.message.clone();
                let label = ask.confirm.clone();
                let action = ask.on_confirm;
                view! {
                    h3(id="confirm-title") { (title) }
                    p(id="confirm-message") { (message) }
                    div(class="dialog-actions") {
                        button(id="cancel-delete", r#type="button", on:click=move |_| close()) {
                            "Cancel"
                        }
                        button(id="confirm-delete", r#type="button", class="danger", on:click=move |_| {
                            // The action first: closing disposes of this button and its handler.
                            action();
                            close();
                        }) { (label) }
                    }
                }
            }))
        }
    };
    follow_modal(
        dialog,
        move || confirm.pending.with(Option::is_some),
        "cancel-delete",
    );
    view
}

/// Keeps the `<dialog>` of `dialog` modal while `open` says so (tracked): opened, the focus goes
/// to the element `first_focus` once it is drawn; closed, back to where it was. The browser
/// traps the focus inside meanwhile and closes it on Escape (which its `close` event reports).
pub(crate) fn follow_modal(
    dialog: NodeRef,
    open: impl Fn() -> bool + 'static,
    first_focus: &'static str,
) {
    let opener: Signal<Option<web_sys::HtmlElement>> = create_signal(None);
    create_effect(move || {
        let open = open();
        let Some(element) = dialog
            .try_get()
            .and_then(|node| node.dyn_into::<web_sys::HtmlDialogElement>().ok())
        else {
            return;
        };
        if open && !element.open() {
            let active = web_sys::window()
                .and_then(|window| window.document())
                .and_then(|document| document.active_element())
                .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
            opener.set_silent(active);
            let _ = element.show_modal();
            // What it asks may be drawn after this effect: focus its first control once it is.
            after(0, move || crate::a11y::focus_by_id(first_focus));
        } else if !open && element.open() {
            element.close();
        }
        if !open {
            if let Some(opener) = opener.take_silent() {
                if opener.is_connected() {
                    let _ = opener.focus();
                }
            }
        }
    });
}
