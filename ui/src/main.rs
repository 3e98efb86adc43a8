//! Entry point of the web app in the browser.

fn main() {
    sycamore::render(ui::App);
}
