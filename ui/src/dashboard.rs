//! The dashboard every signed-in user has: the product's own instrumented demo. A small shop
//! (catalogue, cart, a two-step checkout), plans and help, where every click, view and step is
//! an event of the built-in project — the data the analytics pages show, and real funnels to
//! build from it (`product_viewed` → `add_to_cart` → `checkout_started` → `order_completed`).

use serde_json::{Map, Value, json};
use sycamore::prelude::*;

use crate::a11y;
use crate::tracker::Tracker;

/// A product of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Product {
    pub(crate) slug: &'static str,
    pub(crate) name: &'static str,
    pub(crate) price_cents: u64,
    pub(crate) about: &'static str,
}

pub(crate) const CATALOGUE: [Product; 6] = [
    Product {
        slug: "notebook",
        name: "Dot-grid notebook",
        price_cents: 1_450,
        about: "A5, 160 pages of 100 g paper that takes fountain pens.",
    },
    Product {
        slug: "mug",
        name: "Enamel mug",
        price_cents: 1_800,
        about: "350 ml, for coffee at the desk or at the campfire.",
    },
    Product {
        slug: "hoodie",
        name: "Organic hoodie",
        price_cents: 5_900,
        about: "Heavy cotton, with the product's chart stitched on the sleeve.",
    },
    Product {
        slug: "stickers",
        name: "Sticker pack",
        price_cents: 600,
        about: "Twelve vinyl stickers for laptops and water bottles.",
    },
    Product {
        slug: "poster",
        name: "Funnel poster",
        price_cents: 2_400,
        about: "A2 print of a conversion funnel, in two colours.",
    },
    Product {
        slug: "keyboard",
        name: "Mechanical keyboard",
        price_cents: 12_900,
        about: "Tenkeyless, hot-swappable switches, USB-C.",
    },
];

/// The plans of the plans tab: name, monthly price in cents, what it holds.
pub(crate) const PLANS: [(&str, u64, &str); 3] = [
    ("Hobby", 0, "1 project, 1 million events a month"),
    (
        "Team",
        2_900,
        "10 projects, 20 million events, funnels and retention",
    ),
    (
        "Business",
        9_900,
        "Unlimited projects, SSO, a year of raw events",
    ),
];

const QUESTIONS: [(&str, &str); 3] = [
    (
        "Where do these events go?",
        "To the built-in project of this server. Analysts and admins see them under Analytics.",
    ),
    (
        "Is anything sent twice?",
        "No: each event carries its own id, and one sent again after a failure is stored once.",
    ),
    (
        "What happens when I close the tab?",
        "Events still waiting leave in a request the browser completes after the page is gone.",
    ),
];

/// The tabs of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Shop,
    Plans,
    Help,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Shop, Tab::Plans, Tab::Help];

    fn name(self) -> &'static str {
        match self {
            Tab::Shop => "shop",
            Tab::Plans => "plans",
            Tab::Help => "help",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Shop => "Shop",
            Tab::Plans => "Plans",
            Tab::Help => "Help",
        }
    }
}

/// A line of the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CartLine {
    pub(crate) product: Product,
    pub(crate) quantity: u64,
}

/// Items and value of a cart.
pub(crate) fn cart_totals(cart: &[CartLine]) -> (u64, u64) {
    cart.iter().fold((0, 0), |(items, cents), line| {
        (
            items + line.quantity,
            cents + line.quantity * line.product.price_cents,
        )
    })
}

/// Adds one of `product`, as a new line or to its line.
pub(crate) fn add_to(cart: &mut Vec<CartLine>, product: Product) {
    match cart.iter_mut().find(|line| line.product == product) {
        Some(line) => line.quantity += 1,
        None => cart.push(CartLine {
            product,
            quantity: 1,
        }),
    }
}

/// Euros from cents, as the shop shows them: `€14.50`.
pub(crate) fn euros(cents: u64) -> String {
    format!("€{}.{:02}", cents / 100, cents % 100)
}

/// The value events carry: euros as a number.
fn amount(cents: u64) -> Value {
    json!(cents as f64 / 100.0)
}

/// The properties of an event, from a JSON object.
fn properties(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Where the checkout is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Checkout {
    /// Browsing: the cart is shown.
    Cart,
    Shipping,
    Payment,
    /// An order was placed: its summary.
    Placed(String),
}

/// What the tracker line says.
pub(crate) fn tracker_summary(sent: u64, waiting: usize, problem: Option<&str>) -> String {
    let sent_text = match sent {
        1 => "1 event sent".to_owned(),
        n => format!("{n} events sent"),
    };
    match (waiting, problem) {
        (0, _) => format!("{sent_text}, none waiting."),
        (n, Some(problem)) => format!("{sent_text}, {n} waiting: {problem}"),
        (n, None) => format!("{sent_text}, {n} waiting."),
    }
}

#[allow(non_snake_case)]
pub(crate) fn DashboardPage() -> View {
    let tracker = use_context::<Tracker>();
    let tab = create_signal(Tab::Shop);
    let select_tab = move |next: Tab| {
        if tab.get_untracked() != next {
            tab.set(next);
            tracker.capture("tab_changed", properties(json!({ "tab": next.name() })));
        }
    };
    let tab_buttons = Tab::ALL
        .iter()
        .map(|&this| {
            let id = format!("dash-tab-{}", this.name());
            let panel = format!("dash-panel-{}", this.name());
            view! {
                button(
                    id=id,
                    r#type="button",
                    role="tab",
                    aria-controls=panel,
                    aria-selected=move || (tab.get() == this).to_string(),
                    tabindex=move || if tab.get() == this { "0" } else { "-1" },
                    on:click=move |_| select_tab(this),
                    on:keydown=move |event: web_sys::KeyboardEvent| {
                        let index = Tab::ALL.iter().position(|tab| *tab == this).unwrap_or(0);
                        let Some(next) = a11y::tab_key(index, Tab::ALL.len(), &event.key()) else {
                            return;
                        };
                        event.prevent_default();
                        let next = Tab::ALL[next];
                        select_tab(next);
                        a11y::focus_by_id(&format!("dash-tab-{}", next.name()));
                    },
                ) { (this.label()) }
            }
        })
        .collect::<Vec<_>>();
    view! {
        section(id="dashboard-page", class="dashboard", aria-labelledby="page-title") {
            div(class="dashboard-head") {
                div {
                    h2(id="page-title") { "Dashboard" }
                    p(class="intro") {
                        "This is the product's own demo shop. Everything you do here is sent as an \
                         event to the built-in project, and shows up under Analytics within seconds."
                    }
                }
                p(
                    id="tracker-status",
                    class="tracker-status",
                    role="status",
                    data-sent=move || tracker.sent().to_string(),
                    data-waiting=move || tracker.waiting().to_string(),
                ) {
                    (move || tracker_summary(tracker.sent(), tracker.waiting(), tracker.problem().as_deref()))
                }
            }
            Highlights {}
            div(class="dash-tabs", role="tablist", aria-label="Dashboard sections") {
                (tab_buttons)
            }
            (move || match tab.get() {
                Tab::Shop => view! { Shop {} },
                Tab::Plans => view! { Plans {} },
                Tab::Help => view! { Help {} },
            })
        }
    }
}

/// Three calls to action, each a tracked button.
#[component]
fn Highlights() -> View {
    let tracker = use_context::<Tracker>();
    let chosen = create_signal(None::<&'static str>);
    let cards = [
        (
            "guide",
            "Read the guide",
            "Ten minutes from the first event to the first funnel.",
        ),
        (
            "invite",
            "Invite a teammate",
            "Analysts see trends; admins manage keys and users.",
        ),
        (
            "upgrade",
            "See what's new",
            "Funnels by breakdown and retention heat maps.",
        ),
    ]
    .into_iter()
    .map(|(name, title, text)| {
        view! {
            li(class="highlight") {
                h3 { (title) }
                p { (text) }
                button(
                    id=format!("highlight-{name}"),
                    r#type="button",
                    on:click=move |_| {
                        chosen.set(Some(title));
                        tracker.capture(
                            "button_clicked",
                            properties(json!({ "button": name, "section": "highlights" })),
                        );
                    },
                ) { "Open" }
            }
        }
    })
    .collect::<Vec<_>>();
    view! {
        ul(class="highlights") { (cards) }
        (move || chosen.get().map(|title| view! {
            p(id="highlight-chosen", class="notice", role="status") {
                "You opened \u{201c}" (title) "\u{201d}: that click is an event now."
            }
        }))
    }
}

/// The catalogue, the cart and the checkout.
#[component]
fn Shop() -> View {
    let tracker = use_context::<Tracker>();
    let cart = create_signal(Vec::<CartLine>::new());
    let checkout = create_signal(Checkout::Cart);
    let open = create_signal(None::<&'static str>);
    let products = CATALOGUE
        .iter()
        .enumerate()
        .map(|(index, &product)| {
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
        })
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

#[component(inline_props)]
fn CartView(cart: Signal<Vec<CartLine>>, checkout: Signal<Checkout>) -> View {
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
fn ShippingStep(checkout: Signal<Checkout>) -> View {
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
fn PaymentStep(cart: Signal<Vec<CartLine>>, checkout: Signal<Checkout>) -> View {
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

#[component]
fn Plans() -> View {
    let tracker = use_context::<Tracker>();
    let yearly = create_signal(false);
    let selected = create_signal(None::<&'static str>);
    let plans = PLANS
        .iter()
        .map(|&(name, monthly_cents, about)| {
            let price = move || {
                if monthly_cents == 0 {
                    "Free".to_owned()
                } else if yearly.get() {
                    format!("{} a year", euros(monthly_cents * 10))
                } else {
                    format!("{} a month", euros(monthly_cents))
                }
            };
            let slug = name.to_lowercase();
            view! {
                li(class="plan card", id=format!("plan-{slug}")) {
                    h3 { (name) }
                    p(class="price") { (price) }
                    p { (about) }
                    button(
                        r#type="button",
                        class="choose-plan",
                        aria-pressed=move || (selected.get() == Some(name)).to_string(),
                        on:click=move |_| {
                            selected.set(Some(name));
                            let billing = if yearly.get_untracked() { "yearly" } else { "monthly" };
                            tracker.capture("plan_selected", properties(json!({
                                "plan": name.to_lowercase(),
                                "billing": billing,
                            })));
                        },
                    ) { (move || if selected.get() == Some(name) { "Chosen" } else { "Choose" }) }
                }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(id="dash-panel-plans", role="tabpanel", aria-labelledby="dash-tab-plans") {
            div(class="billing") {
                button(
                    id="billing-toggle",
                    r#type="button",
                    role="switch",
                    aria-checked=move || yearly.get().to_string(),
                    on:click=move |_| {
                        yearly.set(!yearly.get_untracked());
                        tracker.capture("button_clicked", properties(json!({
                            "button": "billing",
                            "section": "plans",
                            "billing": if yearly.get_untracked() { "yearly" } else { "monthly" },
                        })));
                    },
                ) { (move || if yearly.get() { "Billed yearly (2 months free)" } else { "Billed monthly" }) }
            }
            ul(class="plans") { (plans) }
        }
    }
}

#[component]
fn Help() -> View {
    let tracker = use_context::<Tracker>();
    let contacted = create_signal(false);
    let questions = QUESTIONS
        .iter()
        .enumerate()
        .map(|(index, &(question, answer))| {
            view! {
                details(class="faq", id=format!("faq-{}", index + 1), on:toggle=move |event: web_sys::Event| {
                    use wasm_bindgen::JsCast as _;
                    let open = event
                        .target()
                        .and_then(|target| target.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                        .is_some_and(|details| details.open());
                    if open {
                        tracker.capture("faq_opened", properties(json!({ "question": index + 1 })));
                    }
                }) {
                    summary { (question) }
                    p { (answer) }
                }
            }
        })
        .collect::<Vec<_>>();
    view! {
        div(id="dash-panel-help", role="tabpanel", aria-labelledby="dash-tab-help") {
            (questions)
            button(id="contact-support", r#type="button", on:click=move |_| {
                contacted.set(true);
                tracker.capture("button_clicked", properties(json!({
                    "button": "contact_support", "section": "help",
                })));
            }) { "Contact support" }
            (move || contacted.get().then(|| view! {
                p(class="notice", role="status") { "Thanks: someone will write to you within a day." }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cart_counts_items_and_value() {
        let mut cart = Vec::new();
        add_to(&mut cart, CATALOGUE[0]);
        add_to(&mut cart, CATALOGUE[0]);
        add_to(&mut cart, CATALOGUE[3]);
        assert_eq!(cart.len(), 2);
        assert_eq!(cart_totals(&cart), (3, 2 * 1_450 + 600));
        assert_eq!(euros(3_500), "€35.00");
        assert_eq!(euros(605), "€6.05");
    }

    #[test]
    fn the_tracker_line_says_what_is_sent_and_what_waits() {
        assert_eq!(tracker_summary(0, 0, None), "0 events sent, none waiting.");
        assert_eq!(tracker_summary(1, 2, None), "1 event sent, 2 waiting.");
        assert_eq!(
            tracker_summary(5, 1, Some("The service is unavailable, try again")),
            "5 events sent, 1 waiting: The service is unavailable, try again"
        );
    }
}
