//! The cart and the two-step checkout beside the catalogue: each step is an event, so the
//! funnel `product_viewed` → `add_to_cart` → `checkout_started` → `order_completed` is real.

use serde_json::json;
use sycamore::prelude::*;

use super::catalogue::{CartLine, cart_totals, euros};
use super::event::{amount, properties};
use crate::tracker::Tracker;

/// Where the checkout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Checkout {
    /// Browsing: the cart is shown.
    Cart,
    Shipping,
    Payment,
    /// An order was placed: its summary.
    Placed(String),
}

#[component(inline_props)]
pub(crate) fn CartView(cart: Signal<Vec<CartLine>>, checkout: Signal<Checkout>) -> View {
    let tracker = use_context::<Tracker>();
    let totals = create_memo(move || cart.with(|cart| cart_totals(cart)));
    let lines = move || {
        cart.get_clone()
            .into_iter()
            .map(|line| {
                let product = line.product;
                view! {
                    li(class="cart-line", data-product=product.slug) {
                        span(class="cart-line-name") { (format!("{} × {}", line.quantity, product.name)) }
                        span(class="cart-line-price") { (euros(line.quantity * product.price_cents)) }
                        button(
                            r#type="button",
                            class="remove-from-cart link-button",
                            aria-label=format!("Remove {}", product.name),
                            on:click=move |_| {
                                cart.update(|cart| cart.retain(|l| l.product != product));
                                tracker.capture("remove_from_cart", properties(json!({
                                    "product": product.slug,
                                })));
                            },
                        ) { "Remove" }
                    }
                }
            })
            .collect::<Vec<_>>()
    };
    view! {
        h3(id="cart-title") {
            "Cart " span(id="cart-count", class="count") { (move || totals.get().0.to_string()) }
        }
        (move || if totals.get().0 == 0 {
            view! { p(class="empty") { "Your cart is empty: add something from the catalogue." } }
        } else {
            view! { ul(class="cart-lines") { (lines()) } }
        })
        p(class="cart-total") { "Total " strong(id="cart-total") { (move || euros(totals.get().1)) } }
        button(
            id="checkout-start",
            r#type="button",
            class="primary",
            disabled=move || totals.get().0 == 0,
            on:click=move |_| {
                let (items, cents) = totals.get_untracked();
                tracker.capture("checkout_started", properties(json!({
                    "items": items,
                    "value": amount(cents),
                })));
                checkout.set(Checkout::Shipping);
            },
        ) { "Checkout" }
    }
}

#[component(inline_props)]
pub(crate) fn ShippingStep(checkout: Signal<Checkout>) -> View {
    let tracker = use_context::<Tracker>();
    let name = create_signal(String::new());
    let city = create_signal(String::new());
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        tracker.capture(
            "checkout_step",
            properties(json!({ "step": "shipping", "step_number": 1 })),
        );
        checkout.set(Checkout::Payment);
    };
    view! {
        h3(id="cart-title") { "Shipping " span(class="step-count") { "step 1 of 2" } }
        form(id="shipping-form", on:submit=submit) {
            div(class="field") {
                label(r#for="shipping-name") { "Name" }
                input(id="shipping-name", autocomplete="name", required=true, bind:value=name)
            }
            div(class="field") {
                label(r#for="shipping-city") { "City" }
                input(id="shipping-city", autocomplete="address-level2", required=true, bind:value=city)
            }
            button(id="shipping-continue", r#type="submit", class="primary") { "Continue to payment" }
        }
        CancelCheckout(checkout=checkout, step="shipping")
    }
}

#[component(inline_props)]
pub(crate) fn PaymentStep(cart: Signal<Vec<CartLine>>, checkout: Signal<Checkout>) -> View {
    let tracker = use_context::<Tracker>();
    let method = create_signal("card".to_owned());
    let (items, cents) = cart.with_untracked(|cart| cart_totals(cart));
    let options = [
        ("card", "Card"),
        ("paypal", "PayPal"),
        ("invoice", "Invoice"),
    ]
    .into_iter()
    .map(|(value, label)| {
        view! {
            div(class="choice") {
                input(
                    id=format!("payment-{value}"),
                    r#type="radio",
                    name="payment",
                    value=value,
                    checked=move || method.with(|m| m == value),
                    on:change=move |_| method.set(value.to_owned()),
                )
                label(r#for=format!("payment-{value}")) { (label) }
            }
        }
    })
    .collect::<Vec<_>>();
    let place = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let order_id = uuid::Uuid::new_v4().to_string();
        tracker.capture(
            "order_completed",
            properties(json!({
                "order_id": order_id,
                "items": items,
                "value": amount(cents),
                "revenue": amount(cents),
                "payment": method.get_clone_untracked(),
            })),
        );
        cart.set(Vec::new());
        let things = if items == 1 { "item" } else { "items" };
        checkout.set(Checkout::Placed(format!(
            "Order placed: {items} {things}, {}.",
            euros(cents)
        )));
    };
    view! {
        h3(id="cart-title") { "Payment " span(class="step-count") { "step 2 of 2" } }
        form(id="payment-form", on:submit=place) {
            fieldset(class="choices") {
                legend { "Pay with" }
                (options)
            }
            p(class="cart-total") { "To pay " strong { (euros(cents)) } }
            button(id="place-order", r#type="submit", class="primary") { "Place order" }
        }
        CancelCheckout(checkout=checkout, step="payment")
    }
}

#[component(inline_props)]
fn CancelCheckout(checkout: Signal<Checkout>, step: &'static str) -> View {
    let tracker = use_context::<Tracker>();
    view! {
        button(id="checkout-cancel", r#type="button", class="link-button", on:click=move |_| {
            tracker.capture("checkout_cancelled", properties(json!({ "step": step })));
            checkout.set(Checkout::Cart);
        }) { "Back to the cart" }
    }
}
