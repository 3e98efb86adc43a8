//! What the app asks of the browser: timers, the clipboard, the page's origin and the value of
//! the control an event came from.

use sycamore::prelude::*;
use wasm_bindgen::JsCast as _;

/// `window.location.origin`: where SDKs reach this server.
pub(crate) fn origin() -> String {
    if !cfg!(target_arch = "wasm32") {
        return "https://analytics.example.com".to_owned();
    }
    web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default()
}

/// Runs `due` once after `delay_ms`.
pub(crate) fn after(delay_ms: i32, due: impl FnOnce() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let due = wasm_bindgen::closure::Closure::once_into_js(due);
    let _ =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(due.unchecked_ref(), delay_ms);
}

/// Runs `tick` every `period_ms` for as long as the current scope lives.
pub(crate) fn every(period_ms: i32, tick: impl FnMut() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let tick = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(tick);
    let Ok(id) = window.set_interval_with_callback_and_timeout_and_arguments_0(
        tick.as_ref().unchecked_ref(),
        period_ms,
    ) else {
        return;
    };
    on_cleanup(move || {
        window.clear_interval_with_handle(id);
        drop(tick);
    });
}

/// Writes `text` to the clipboard; whether it worked.
pub(crate) async fn copy_to_clipboard(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    js_sys::futures::JsFuture::from(promise).await.is_ok()
}

/// Waits `ms` milliseconds.
pub(crate) async fn sleep_ms(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let delay = i32::try_from(ms).unwrap_or(i32::MAX);
        let timer = web_sys::window().map(|window| {
            window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, delay)
        });
        if !matches!(timer, Some(Ok(_))) {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = js_sys::futures::JsFuture::from(promise).await;
}

/// The value of the input or select an event came from.
pub(crate) fn target_value(event: &web_sys::Event) -> String {
    let Some(target) = event.target() else {
        return String::new();
    };
    if let Some(input) = target.dyn_ref::<web_sys::HtmlInputElement>() {
        input.value()
    } else if let Some(select) = target.dyn_ref::<web_sys::HtmlSelectElement>() {
        select.value()
    } else {
        String::new()
    }
}
