//! The shop the demo visitors browse: its products and pages, when people come, where from,
//! and on what machines.

use time::Weekday;

use super::rng::Rng;

/// Relative traffic by hour of day (UTC, the built-in project's zone): quiet at night, busiest
/// late morning and in the evening.
pub(super) const HOURS: [u32; 24] = [
    3, 2, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 12, 11, 11, 11, 12, 14, 15, 15, 12, 8, 5,
];

/// Relative traffic by weekday: weekends are quieter.
pub(super) fn weekday_weight(day: Weekday) -> u32 {
    match day {
        Weekday::Monday | Weekday::Thursday => 100,
        Weekday::Tuesday | Weekday::Wednesday => 105,
        Weekday::Friday => 90,
        Weekday::Saturday => 60,
        Weekday::Sunday => 65,
    }
}

/// A product of the shop: slug, name, price, category.
pub(super) type Product = (&'static str, &'static str, f64, &'static str);

/// Most popular first.
pub(super) const PRODUCTS: &[Product] = &[
    ("trail-runner", "Trail Runner", 129.0, "shoes"),
    ("rain-jacket", "Rain Jacket", 149.0, "jackets"),
    ("merino-tee", "Merino Tee", 45.0, "tops"),
    ("city-sneaker", "City Sneaker", 89.0, "shoes"),
    ("canvas-backpack", "Canvas Backpack", 79.0, "bags"),
    ("down-vest", "Down Vest", 119.0, "jackets"),
    ("wool-socks", "Wool Socks", 15.0, "accessories"),
    ("sun-cap", "Sun Cap", 25.0, "accessories"),
];

pub(super) const CONTENT_PAGES: &[&str] = &[
    "/",
    "/products",
    "/products?category=shoes",
    "/products?category=jackets",
    "/blog",
    "/blog/how-to-choose-running-shoes",
    "/pricing",
    "/about",
    "/shipping",
];

pub(super) const SEARCHES: &[&str] = &[
    "running shoes",
    "rain jacket",
    "socks",
    "backpack",
    "merino",
    "gift card",
];

/// Where a session comes from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Source {
    /// `document.referrer`; none for direct visits and e-mail clients.
    pub(super) referrer: Option<&'static str>,
    /// `utm_source`, `utm_medium`, `utm_campaign`.
    pub(super) utm: Option<(&'static str, &'static str, &'static str)>,
    /// Where people from here land.
    pub(super) landings: &'static [&'static str],
    /// How likely a session from here shops at all.
    pub(super) shops: f64,
}

pub(super) const DIRECT: Source = Source {
    referrer: None,
    utm: None,
    landings: &["/", "/", "/products", "/products/trail-runner"],
    shops: 0.7,
};
pub(super) const GOOGLE: Source = Source {
    referrer: Some("https://www.google.com/"),
    utm: None,
    landings: &[
        "/",
        "/products/trail-runner",
        "/products/rain-jacket",
        "/blog/how-to-choose-running-shoes",
        "/products",
    ],
    shops: 0.65,
};
pub(super) const DUCKDUCKGO: Source = Source {
    referrer: Some("https://duckduckgo.com/"),
    ..GOOGLE
};
pub(super) const X: Source = Source {
    referrer: Some("https://x.com/"),
    utm: None,
    landings: &["/", "/products/city-sneaker", "/blog"],
    shops: 0.45,
};
pub(super) const HACKER_NEWS: Source = Source {
    referrer: Some("https://news.ycombinator.com/"),
    utm: None,
    landings: &["/blog/we-built-our-shop-in-rust"],
    shops: 0.3,
};
pub(super) const REDDIT: Source = Source {
    referrer: Some("https://www.reddit.com/"),
    utm: None,
    landings: &["/blog/how-to-choose-running-shoes", "/products/merino-tee"],
    shops: 0.5,
};
pub(super) const NEWSLETTER: Source = Source {
    referrer: None,
    utm: Some(("newsletter", "email", "spring-sale")),
    landings: &["/products/rain-jacket", "/products", "/products/down-vest"],
    shops: 0.85,
};

/// How first visits arrive.
pub(super) const FIRST_SOURCES: &[(Source, u32)] = &[
    (DIRECT, 26),
    (GOOGLE, 30),
    (DUCKDUCKGO, 4),
    (X, 10),
    (HACKER_NEWS, 9),
    (REDDIT, 6),
    (NEWSLETTER, 10),
];

/// How returning visitors arrive: mostly by heart or from the newsletter.
pub(super) const RETURN_SOURCES: &[(Source, u32)] = &[(DIRECT, 60), (NEWSLETTER, 25), (GOOGLE, 15)];

/// Where visitors browse from: a network (the first three bytes of an IPv4 address) and the
/// country DB-IP's database places it in, weighted like a small international shop's audience.
/// Each visitor draws one, and a last byte of their own.
pub(super) const NETWORKS: &[((&str, &str), u32)] = &[
    (("8.8.8", "US"), 18),
    (("23.185.0", "US"), 12),
    (("142.150.0", "CA"), 6),
    (("200.33.0", "MX"), 3),
    (("200.160.2", "BR"), 5),
    (("81.2.69", "GB"), 9),
    (("85.214.132", "DE"), 8),
    (("193.99.144", "DE"), 4),
    (("212.27.48", "FR"), 6),
    (("194.109.6", "NL"), 3),
    (("80.58.61", "ES"), 3),
    (("193.205.0", "IT"), 3),
    (("130.237.0", "SE"), 2),
    (("212.77.100", "PL"), 2),
    (("49.44.0", "IN"), 6),
    (("133.242.0", "JP"), 4),
    (("1.1.1", "AU"), 4),
    (("41.203.0", "ZA"), 2),
];

/// A visitor's machine, as posthog-js reports it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Client {
    pub(super) browser: &'static str,
    pub(super) os: &'static str,
    pub(super) device: &'static str,
}

impl Client {
    pub(super) fn draw(rng: &mut Rng) -> Self {
        let device = rng.weighted(&[("Desktop", 55), ("Mobile", 38), ("Tablet", 7)]);
        let (os, browsers): (&str, &[(&str, u32)]) = match device {
            "Desktop" => match rng.weighted(&[("Windows", 55), ("Mac OS X", 33), ("Linux", 12)]) {
                "Windows" => ("Windows", &[("Chrome", 62), ("Edge", 28), ("Firefox", 10)]),
                "Mac OS X" => (
                    "Mac OS X",
                    &[("Chrome", 50), ("Safari", 40), ("Firefox", 10)],
                ),
                _ => ("Linux", &[("Chrome", 55), ("Firefox", 45)]),
            },
            "Mobile" => match rng.weighted(&[("iOS", 55), ("Android", 45)]) {
                "iOS" => ("iOS", &[("Mobile Safari", 85), ("Chrome iOS", 15)]),
                _ => (
                    "Android",
                    &[("Chrome", 80), ("Samsung Internet", 12), ("Firefox", 8)],
                ),
            },
            _ => ("iOS", &[("Mobile Safari", 90), ("Chrome iOS", 10)]),
        };
        Self {
            browser: rng.weighted(browsers),
            os,
            device,
        }
    }
}
