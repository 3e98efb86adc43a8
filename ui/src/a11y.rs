//! Keyboard use shared by the pages: tab lists moved through with the arrow keys, Home and End
//! (the WAI-ARIA tabs pattern), and the focus put where the person is going next.

use wasm_bindgen::JsCast as _;

/// The tab a key moves to in a list of `count` tabs from tab `index`: the next or previous one
/// (wrapping around), the first or the last; `None` for any other key.
pub(crate) fn tab_key(index: usize, count: usize, key: &str) -> Option<usize> {
    if count == 0 {
        return None;
    }
    match key {
        "ArrowRight" => Some((index + 1) % count),
        "ArrowLeft" => Some((index + count - 1) % count),
        "Home" => Some(0),
        "End" => Some(count - 1),
        _ => None,
    }
}

/// Moves the keyboard focus to the element `id`, if the page has it (only in a browser).
pub(crate) fn focus_by_id(id: &str) {
    if !cfg!(target_arch = "wasm32") {
        return;
    }
    let element = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id(id))
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_wrap_around_and_home_and_end_jump() {
        assert_eq!(tab_key(0, 3, "ArrowRight"), Some(1));
        assert_eq!(tab_key(2, 3, "ArrowRight"), Some(0));
        assert_eq!(tab_key(0, 3, "ArrowLeft"), Some(2));
        assert_eq!(tab_key(1, 3, "Home"), Some(0));
        assert_eq!(tab_key(1, 3, "End"), Some(2));
        assert_eq!(tab_key(1, 3, "Enter"), None);
        assert_eq!(tab_key(0, 0, "ArrowRight"), None);
    }
}
