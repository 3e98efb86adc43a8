//! The analytics page kept in step with the browser: the address bar and the back button, and
//! the window's width, which the charts follow.

use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

use super::page::{Page, today};
use super::url::ViewState;

/// Keeps the address in step with the view (a new history entry per tab, the rest in place),
/// and the view with the address when the back button changes it.
pub(crate) fn follow_the_address(page: Page) {
    let view = page.view;
    let mut last_tab = None;
    create_effect(move || {
        let (search, tab) = view.with(|v| (v.encode(), v.tab));
        let Some(history) = web_sys::window().and_then(|w| w.history().ok()) else {
            return;
        };
        let url = format!("/analytics?{search}");
        let current = format!("/analytics{}", crate::route::location_search());
        if current == url {
            last_tab = Some(tab);
            return;
        }
        let null = wasm_bindgen::JsValue::NULL;
        let _ = if last_tab.is_some_and(|last| last != tab) {
            history.push_state_with_url(&null, "", Some(&url))
        } else {
            history.replace_state_with_url(&null, "", Some(&url))
        };
        last_tab = Some(tab);
    });
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_pop = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        if view.is_alive() && crate::route::location_path() == "/analytics" {
            let mut next = ViewState::decode(&crate::route::location_search(), &today());
            if next.project.is_empty() {
                next.project = view.with_untracked(|v| v.project.clone());
            }
            view.set(next);
        }
    });
    let _ = window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    on_cleanup(move || {
        if let Some(window) = web_sys::window() {
            let _ = window
                .remove_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
        }
    });
}

/// `width` follows the width of `element` (the page's, a dashboard tile's): the charts' in it.
pub(crate) fn follow_the_width(width: Signal<f64>, element: NodeRef) {
    let measure = move || {
        let Some(node) = element.try_get() else {
            return;
        };
        if let Ok(element) = node.dyn_into::<web_sys::Element>() {
            let measured = f64::from(element.client_width()) - 2.0;
            if measured > 0.0 && width.is_alive() && width.get_untracked() != measured {
                width.set(measured);
            }
        }
    };
    measure();
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_resize = wasm_bindgen::closure::Closure::<dyn Fn()>::new(measure);
    let _ = window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
    on_cleanup(move || {
        if let Some(window) = web_sys::window() {
            let _ = window
                .remove_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
        }
    });
}
