//! The shop tab: the catalogue, each product with its details and an add-to-cart button, beside
//! the cart and the checkout.

use serde_json::json;
use sycamore::prelude::*;

use super::catalogue::{CATALOGUE, CartLine, Product, add_to, cart_totals, euros};
use super::checkout::{CartView, Checkout, PaymentStep, ShippingStep};
use super::event::{amount, properties};
use crate::tracker::Tracker;

/// The catalogue, the cart and the checkout.
#[component]
pub(crate) fn Shop() -> View {
    let tracker = use_context::<Tracker>();
    let cart = create_signal(Vec::<CartLine>::new());
    let checkout = create_signal(Checkout::Cart);
    let open = create_signal(None::<&'static str>);
    let products = CATALOGUE
        .iter()
        .enumerate()
        .map(|(index, &product)| view! { ProductCard(index=index, product=product, open=open, cart=cart, checkout=checkout) })
        .collect::<Vec<_>>();
    view! {
        div(id="dash-panel-shop", class="shop", role="tabpanel", aria-labelledby="dash-tab-shop") {
            ul(class="catalogue", aria-label="Products") { (products) }
            aside(id="cart", class="card cart", aria-labelledby="cart-title") {
                (move || match checkout.get_clone() {
                    Checkout::Cart => view! { CartView(cart=cart, checkout=checkout) },
                    Checkout::Shipping => view! { ShippingStep(checkout=checkout) },
                    Checkout::Payment => view! { PaymentStep(cart=cart, checkout=checkout) },
                    Checkout::Placed(summary) => view! {
                        h3(id="cart-title") { "Thank you" }
                        p(id="order-confirmation", role="status") { (summary) }
                        button(id="shop-again", r#type="button", on:click=move |_| {
                            checkout.set(Checkout::Cart);
                            tracker.capture("button_clicked", properties(json!({
                                "button": "shop_again", "section": "shop",
                            })));
                        }) { "Shop again" }
                    },
                })
            }
        }
    }
}

/// A product: its picture, name and price, the details it opens (a `product_viewed` event)
/// and the button adding it to the cart (an `add_to_cart` event), which leaves the checkout.
#[component(inline_props)]
fn ProductCard(
    index: usize,
    product: Product,
    open: Signal<Option<&'static str>>,
    cart: Signal<Vec<CartLine>>,
    checkout: Signal<Checkout>,
) -> View {
    let tracker = use_context::<Tracker>();
    let is_open = move || open.get() == Some(product.slug);
    view! {
        li(id=format!("product-{}", product.slug), class="product") {
            div(class=format!("product-art product-art-{}", index + 1), aria-hidden="true") {}
            h3 { (product.name) }
            p(class="price") { (euros(product.price_cents)) }
            (move || is_open().then(|| view! { p(class="about") { (product.about) } }))
            div(class="product-actions") {
                button(
                    r#type="button",
                    class="view-product",
                    aria-expanded=move || is_open().to_string(),
                    on:click=move |_| {
                        if open.get_untracked() == Some(product.slug) {
                            open.set(None);
                        } else {
                            open.set(Some(product.slug));
                            tracker.capture("product_viewed", properties(json!({
                                "product": product.slug,
                                "price": amount(product.price_cents),
                            })));
                        }
                    },
                ) { (move || if is_open() { "Hide" } else { "Details" }) }
                button(
                    r#type="button",
                    class="add-to-cart primary-inline",
                    on:click=move |_| {
                        cart.update(|cart| add_to(cart, product));
                        if checkout.with_untracked(|step| *step != Checkout::Cart) {
                            checkout.set(Checkout::Cart);
                        }
                        let (items, _) = cart.with_untracked(|cart| cart_totals(cart));
                        tracker.capture("add_to_cart", properties(json!({
                            "product": product.slug,
                            "price": amount(product.price_cents),
                            "cart_items": items,
                        })));
                    },
                ) { "Add to cart" }
            }
        }
    }
}
