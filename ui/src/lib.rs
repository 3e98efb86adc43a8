//! The web app: a sycamore single-page application compiled to WebAssembly and served by edge.

use sycamore::prelude::*;

/// The whole app.
#[component]
pub fn App() -> View {
    view! {
        main(class="shell") {
            header(class="masthead") {
                h1(id="product-name") { (contract::PRODUCT_NAME) }
                p(class="tagline") {
                    "Every event collected, none lost, none counted twice."
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn the_app_shows_the_product_name() {
        let html = sycamore::web::render_to_string(App);
        assert!(html.contains("Event Analytics"), "{html}");
        assert!(html.contains("id=\"product-name\""), "{html}");
    }
}
