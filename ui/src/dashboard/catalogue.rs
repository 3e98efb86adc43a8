//! The demo shop's catalogue and cart: the products, what a cart holds and is worth, and
//! prices as the shop shows them.

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
}
