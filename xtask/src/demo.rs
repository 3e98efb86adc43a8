//! `cargo xtask demo`: a few weeks of made-up but lifelike traffic for a small shop, sent through
//! the public SDK routes, so a fresh install shows a living dashboard within a minute.
//!
//! Visitors have a stable `distinct_id`, a browser, OS and device, and arrive from a search
//! engine, a social site, Hacker News, a newsletter or directly; they come more on weekdays and
//! in the afternoon and evening, browse a few pages per session, and some of them walk down the
//! shop funnel (`product_viewed` → `add_to_cart` → `checkout_started` → `order_completed`), losing
//! people at every step. About a third come back on later days, so retention has something to
//! show. The browser events go to PostHog's `/batch/`, the orders (recorded by the shop's server)
//! to Segment's `/v1/batch`. Everything follows from the seed and the moment of the run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use plumbing::config::Secret;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, Weekday};
use uuid::Uuid;

/// The shop funnel, in order: the same event names the product's own dashboard sends.
pub const FUNNEL: [&str; 4] = [
    "product_viewed",
    "add_to_cart",
    "checkout_started",
    "order_completed",
];

/// Most events PostHog's route takes in one request (`ingest::posthog::MAX_EVENTS`).
const MAX_BATCH_EVENTS: usize = 1000;
/// A request body stays well under ingest's 1 MiB limit.
const MAX_BATCH_BYTES: usize = 768 * 1024;
/// Requests in flight at once: enough to keep ingest busy on two cores.
const CONCURRENT_REQUESTS: usize = 4;
/// Sessions start at least this long before the run, so none ends in the future.
const SESSION_MARGIN: time::Duration = time::Duration::hours(1);
/// The site the visitors browse.
const HOST: &str = "shop.example";

/// What traffic to make up.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// How far back the history goes.
    pub days: u32,
    /// Distinct visitors over the whole history.
    pub visitors: u32,
    /// Everything random follows from it.
    pub seed: u64,
    /// Share of visitors who come back on a later day.
    pub returning_share: f64,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            days: 28,
            visitors: 1500,
            seed: 1,
            returning_share: 0.35,
        }
    }
}

/// Where and how to send the traffic.
#[derive(Debug, Clone)]
pub struct Options {
    /// Edge's base URL, without a trailing slash.
    pub url: String,
    /// The admin whose session reads (or issues) the built-in project's write key.
    pub email: String,
    pub password: Secret,
    pub plan: Plan,
    /// Events per request.
    pub batch_size: usize,
    /// A progress line on stderr while sending.
    pub progress: bool,
}

impl Options {
    /// `defaults` overridden by `--url`, `--days`, `--visitors`, `--seed`, `--email`,
    /// `--password` and `--batch` (each as `--flag value` or `--flag=value`).
    pub fn parse(args: &[String], defaults: Options) -> anyhow::Result<Options> {
        let mut options = defaults;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next().cloned())
                    .with_context(|| format!("{flag} needs a value"))
            };
            match flag {
                "--url" => options.url = value()?.trim_end_matches('/').to_owned(),
                "--days" => options.plan.days = number(flag, &value()?, 1..=365)?,
                "--visitors" => options.plan.visitors = number(flag, &value()?, 1..=1_000_000)?,
                "--seed" => {
                    let text = value()?;
                    options.plan.seed = text
                        .parse()
                        .with_context(|| format!("--seed: {text:?} is not a whole number"))?;
                }
                "--email" => options.email = value()?,
                "--password" => options.password = Secret::new(value()?),
                "--batch" => {
                    let size: u32 = number(flag, &value()?, 1..=MAX_BATCH_EVENTS as u32)?;
                    options.batch_size = size as usize;
                }
                other => anyhow::bail!("unknown option {other} for demo"),
            }
        }
        Ok(options)
    }
}

fn number(flag: &str, text: &str, range: std::ops::RangeInclusive<u32>) -> anyhow::Result<u32> {
    text.parse()
        .ok()
        .filter(|n| range.contains(n))
        .with_context(|| {
            format!(
                "{flag}: expected a number from {} to {}, got {text:?}",
                range.start(),
                range.end()
            )
        })
}

/// The SDK route an event goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wire {
    /// posthog-js in the visitor's browser: `/batch/`.
    Posthog,
    /// The shop's server with Segment's Node library: `/v1/batch`.
    Segment,
}

impl Wire {
    fn path(self) -> &'static str {
        match self {
            Wire::Posthog => "/batch/",
            Wire::Segment => "/v1/batch",
        }
    }
}

/// One made-up event.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoEvent {
    pub id: Uuid,
    pub event: &'static str,
    pub distinct_id: String,
    pub timestamp: OffsetDateTime,
    pub wire: Wire,
    pub properties: Map<String, Value>,
}

impl DemoEvent {
    /// The event as its SDK puts it in a batch.
    fn to_wire(&self) -> Value {
        let timestamp = self
            .timestamp
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.timestamp.to_string());
        match self.wire {
            Wire::Posthog => json!({
                "uuid": self.id.to_string(),
                "event": self.event,
                "distinct_id": self.distinct_id,
                "timestamp": timestamp,
                "properties": self.properties,
            }),
            Wire::Segment => json!({
                "type": "track",
                "messageId": self.id.to_string(),
                "event": self.event,
                "anonymousId": self.distinct_id,
                "timestamp": timestamp,
                "properties": self.properties,
                "context": { "library": { "name": "analytics-node", "version": "2.1.0" } },
            }),
        }
    }
}

/// A small, fast, seeded generator: the same numbers for the same seed on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`, mixed first so that neighbouring seeds give unrelated sequences.
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self::with_state(z ^ (z >> 31))
    }

    /// A generator starting from `state` as it is (zero, which xorshift never leaves, is
    /// replaced).
    pub fn with_state(state: u64) -> Self {
        Self(if state == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            state
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1).max(1) as u64) as i64
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// An item drawn with the weights given next to each.
    pub fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < u64::from(*weight) {
                return *item;
            }
            roll -= u64::from(*weight);
        }
        items[items.len() - 1].0
    }

    /// A random (version 4) UUID drawn from this generator.
    pub fn uuid(&mut self) -> Uuid {
        let bytes = (u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// Relative traffic by hour of day (UTC, the built-in project's zone): quiet at night, busiest
/// late morning and in the evening.
const HOURS: [u32; 24] = [
    3, 2, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 12, 11, 11, 11, 12, 14, 15, 15, 12, 8, 5,
];

/// Relative traffic by weekday: weekends are quieter.
fn weekday_weight(day: Weekday) -> u32 {
    match day {
        Weekday::Monday | Weekday::Thursday => 100,
        Weekday::Tuesday | Weekday::Wednesday => 105,
        Weekday::Friday => 90,
        Weekday::Saturday => 60,
        Weekday::Sunday => 65,
    }
}

/// A product of the shop: slug, name, price, category.
type Product = (&'static str, &'static str, f64, &'static str);

/// Most popular first.
const PRODUCTS: &[Product] = &[
    ("trail-runner", "Trail Runner", 129.0, "shoes"),
    ("rain-jacket", "Rain Jacket", 149.0, "jackets"),
    ("merino-tee", "Merino Tee", 45.0, "tops"),
    ("city-sneaker", "City Sneaker", 89.0, "shoes"),
    ("canvas-backpack", "Canvas Backpack", 79.0, "bags"),
    ("down-vest", "Down Vest", 119.0, "jackets"),
    ("wool-socks", "Wool Socks", 15.0, "accessories"),
    ("sun-cap", "Sun Cap", 25.0, "accessories"),
];

const CONTENT_PAGES: &[&str] = &[
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

const SEARCHES: &[&str] = &[
    "running shoes",
    "rain jacket",
    "socks",
    "backpack",
    "merino",
    "gift card",
];

/// Where a session comes from.
#[derive(Debug, Clone, Copy)]
struct Source {
    /// `document.referrer`; none for direct visits and e-mail clients.
    referrer: Option<&'static str>,
    /// `utm_source`, `utm_medium`, `utm_campaign`.
    utm: Option<(&'static str, &'static str, &'static str)>,
    /// Where people from here land.
    landings: &'static [&'static str],
    /// How likely a session from here shops at all.
    shops: f64,
}

const DIRECT: Source = Source {
    referrer: None,
    utm: None,
    landings: &["/", "/", "/products", "/products/trail-runner"],
    shops: 0.7,
};
const GOOGLE: Source = Source {
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
const DUCKDUCKGO: Source = Source {
    referrer: Some("https://duckduckgo.com/"),
    ..GOOGLE
};
const X: Source = Source {
    referrer: Some("https://x.com/"),
    utm: None,
    landings: &["/", "/products/city-sneaker", "/blog"],
    shops: 0.45,
};
const HACKER_NEWS: Source = Source {
    referrer: Some("https://news.ycombinator.com/"),
    utm: None,
    landings: &["/blog/we-built-our-shop-in-rust"],
    shops: 0.3,
};
const REDDIT: Source = Source {
    referrer: Some("https://www.reddit.com/"),
    utm: None,
    landings: &["/blog/how-to-choose-running-shoes", "/products/merino-tee"],
    shops: 0.5,
};
const NEWSLETTER: Source = Source {
    referrer: None,
    utm: Some(("newsletter", "email", "spring-sale")),
    landings: &["/products/rain-jacket", "/products", "/products/down-vest"],
    shops: 0.85,
};

/// How first visits arrive.
const FIRST_SOURCES: &[(Source, u32)] = &[
    (DIRECT, 26),
    (GOOGLE, 30),
    (DUCKDUCKGO, 4),
    (X, 10),
    (HACKER_NEWS, 9),
    (REDDIT, 6),
    (NEWSLETTER, 10),
];

/// How returning visitors arrive: mostly by heart or from the newsletter.
const RETURN_SOURCES: &[(Source, u32)] = &[(DIRECT, 60), (NEWSLETTER, 25), (GOOGLE, 15)];

/// A visitor's machine, as posthog-js reports it.
#[derive(Debug, Clone, Copy)]
struct Client {
    browser: &'static str,
    os: &'static str,
    device: &'static str,
}

impl Client {
    fn draw(rng: &mut Rng) -> Self {
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

/// Makes up the traffic of `plan` for the `plan.days` before `now`, ordered by time. The same
/// plan and `now` give the same events.
pub fn generate(plan: &Plan, now: OffsetDateTime) -> Vec<DemoEvent> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let start = now - time::Duration::days(i64::from(plan.days));
    // Each visitor draws from a generator of its own, so one visitor's choices do not shift
    // every later visitor's.
    let seeds = Rng::new(plan.seed);
    let mut events = Vec::new();
    for visitor in 0..plan.visitors {
        let mut rng = Rng::new(seeds.0 ^ u64::from(visitor).wrapping_mul(0xA24B_AED4_963E_E407));
        visit(&mut rng, plan, start, now, &mut events);
    }
    events.sort_by_key(|event| event.timestamp);
    events
}

/// Every session of one visitor.
fn visit(
    rng: &mut Rng,
    plan: &Plan,
    start: OffsetDateTime,
    now: OffsetDateTime,
    out: &mut Vec<DemoEvent>,
) {
    let visitor = Visitor {
        distinct_id: rng.uuid().to_string(),
        client: Client::draw(rng),
        signs_up: rng.chance(0.12),
    };
    let returns = plan.days > 1 && rng.chance(plan.returning_share);
    // A visitor who comes back needs a day left to come back on.
    let latest = if returns {
        now - SESSION_MARGIN - time::Duration::DAY
    } else {
        now - SESSION_MARGIN
    };
    let mut at = session_start(rng, start, latest, plan.days);
    session(rng, &visitor, at, true, out);
    if !returns {
        return;
    }
    let latest = now - SESSION_MARGIN;
    for _ in 0..rng.between(1, 3) {
        // Within the days left, so that the first return always fits.
        let days_left = (latest.date() - at.date()).whole_days();
        if days_left < 1 {
            break;
        }
        let gap = time::Duration::days(rng.between(1, days_left.min(9)));
        let Some(next) = later_session(rng, at, gap, latest) else {
            break;
        };
        at = next;
        session(rng, &visitor, at, false, out);
    }
}

#[derive(Debug)]
struct Visitor {
    distinct_id: String,
    client: Client,
    signs_up: bool,
}

/// A session start in `[start, latest)`, drawn by weekday, by a slowly growing trend and by
/// hour of day.
fn session_start(
    rng: &mut Rng,
    start: OffsetDateTime,
    latest: OffsetDateTime,
    days: u32,
) -> OffsetDateTime {
    let first_day = start.date();
    let day_weights: Vec<(i64, u32)> = (0..=i64::from(days))
        .map(|day| {
            let date = first_day + time::Duration::days(day);
            // The shop grows: the last day gets about half again as many visitors as the first.
            let trend = 80 + 40 * day as u32 / days.max(1);
            (day, weekday_weight(date.weekday()) * trend)
        })
        .collect();
    for _ in 0..64 {
        let day = rng.weighted(&day_weights);
        let at = at_hour(rng, first_day + time::Duration::days(day));
        if at >= start && at < latest {
            return at;
        }
    }
    // Only reached when the window is a sliver: any instant inside it will do.
    let span = (latest - start).whole_seconds().max(1);
    start + time::Duration::seconds(rng.between(0, span - 1))
}

/// A return visit `gap` days after `after` (at an hour of its own), before `latest`.
fn later_session(
    rng: &mut Rng,
    after: OffsetDateTime,
    gap: time::Duration,
    latest: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let date = after.date() + gap;
    for _ in 0..16 {
        let at = at_hour(rng, date);
        if at < latest {
            return Some(at);
        }
    }
    // The next day at the same time is before `latest` when the visitor was planned to return.
    let fallback = after + time::Duration::DAY;
    (gap == time::Duration::DAY && fallback < latest).then_some(fallback)
}

/// A time on `date` drawn by the daily curve.
fn at_hour(rng: &mut Rng, date: time::Date) -> OffsetDateTime {
    let hours: Vec<(i64, u32)> = (0..24).zip(HOURS).collect();
    let hour = rng.weighted(&hours);
    date.midnight().assume_utc() + time::Duration::seconds(hour * 3600 + rng.between(0, 3599))
}

/// One session: a landing page, some browsing, perhaps a search, perhaps the shop funnel.
fn session(
    rng: &mut Rng,
    visitor: &Visitor,
    start: OffsetDateTime,
    first: bool,
    out: &mut Vec<DemoEvent>,
) {
    let source = rng.weighted(if first { FIRST_SOURCES } else { RETURN_SOURCES });
    let mut page = Page {
        visitor,
        source,
        session_id: rng.uuid().to_string(),
        at: start,
        path: rng.pick(source.landings).to_owned(),
    };
    page.view(rng, out);
    if let Some(slug) = page.path.strip_prefix("/products/") {
        let slug = slug.to_owned();
        page.product(rng, &slug, out);
    }
    for _ in 0..rng.between(0, 3) {
        let path = rng.pick(CONTENT_PAGES);
        page.go(rng, path, out);
    }
    if rng.chance(0.15) {
        let query = rng.pick(SEARCHES);
        page.go(rng, &format!("/search?q={}", query.replace(' ', "+")), out);
        let results = rng.between(0, 24);
        page.track(
            rng,
            "search",
            json!({ "query": query, "results": results }),
            out,
        );
    }
    if rng.chance(0.2) {
        let button = rng.pick(&["newsletter_subscribe", "size_guide", "share", "wishlist"]);
        page.track(rng, "button_clicked", json!({ "button": button }), out);
    }
    if first && visitor.signs_up {
        page.go(rng, "/signup", out);
        let method = rng.pick(&["email", "email", "google", "apple"]);
        page.track(rng, "signup", json!({ "method": method }), out);
    }
    // Returning visitors come back with intent: they shop and buy more often.
    let shops = if first { source.shops } else { 0.8 };
    if !rng.chance(shops) {
        return;
    }
    let mut viewed = Vec::new();
    for _ in 0..rng.between(1, 3) {
        let weights: Vec<(usize, u32)> = (0..PRODUCTS.len())
            .map(|i| (i, (PRODUCTS.len() - i) as u32))
            .collect();
        let product = PRODUCTS[rng.weighted(&weights)];
        page.go(rng, &format!("/products/{}", product.0), out);
        page.product(rng, product.0, out);
        viewed.push(product);
    }
    let carts = if first { 0.35 } else { 0.45 };
    let Some(&product) = viewed.last().filter(|_| rng.chance(carts)) else {
        return;
    };
    let quantity = rng.weighted(&[(1_i64, 85), (2, 12), (3, 3)]);
    let value = product.2 * quantity as f64;
    page.track(
        rng,
        "add_to_cart",
        json!({ "product": product.1, "product_id": product.0, "price": product.2,
                "category": product.3, "quantity": quantity }),
        out,
    );
    page.go(rng, "/cart", out);
    if !rng.chance(0.6) {
        return;
    }
    page.go(rng, "/checkout", out);
    page.track(
        rng,
        "checkout_started",
        json!({ "value": value, "currency": "EUR", "items": quantity }),
        out,
    );
    if !rng.chance(0.7) {
        return;
    }
    page.go(rng, "/checkout/thank-you", out);
    // The order is recorded by the shop's server, through Segment's library.
    page.at += time::Duration::seconds(rng.between(1, 4));
    out.push(DemoEvent {
        id: rng.uuid(),
        event: "order_completed",
        distinct_id: visitor.distinct_id.clone(),
        timestamp: page.at,
        wire: Wire::Segment,
        properties: object(json!({
            "order_id": format!("order-{}", rng.below(1_000_000_000)),
            "product": product.1,
            "product_id": product.0,
            "price": product.2,
            "quantity": quantity,
            "revenue": value,
            "currency": "EUR",
        })),
    });
}

/// Where a session is: the page on screen, and when.
#[derive(Debug)]
struct Page<'a> {
    visitor: &'a Visitor,
    source: Source,
    session_id: String,
    at: OffsetDateTime,
    path: String,
}

impl Page<'_> {
    /// Navigates to `path` after reading the current page a while.
    fn go(&mut self, rng: &mut Rng, path: &str, out: &mut Vec<DemoEvent>) {
        self.at += time::Duration::seconds(rng.between(8, 120));
        self.path = path.to_owned();
        self.view(rng, out);
    }

    fn view(&mut self, rng: &mut Rng, out: &mut Vec<DemoEvent>) {
        self.track(rng, "$pageview", json!({}), out);
    }

    /// `product_viewed` on a product page, and sometimes a look at its other tabs.
    fn product(&mut self, rng: &mut Rng, slug: &str, out: &mut Vec<DemoEvent>) {
        let Some(product) = PRODUCTS.iter().find(|p| p.0 == slug) else {
            return;
        };
        let properties = json!({ "product": product.1, "product_id": product.0,
                                 "price": product.2, "category": product.3 });
        self.track(rng, "product_viewed", properties, out);
        if rng.chance(0.3) {
            let tab = rng.pick(&["details", "reviews", "shipping"]);
            self.track(rng, "tab_changed", json!({ "tab": tab }), out);
        }
    }

    /// An event on the current page, a few seconds on, with what posthog-js adds to each.
    fn track(
        &mut self,
        rng: &mut Rng,
        event: &'static str,
        extra: Value,
        out: &mut Vec<DemoEvent>,
    ) {
        self.at += time::Duration::seconds(rng.between(1, 6));
        let client = self.visitor.client;
        let mut properties = object(json!({
            "$current_url": format!("https://{HOST}{}", self.path),
            "$host": HOST,
            "$pathname": self.path.split('?').next().unwrap_or("/"),
            "$browser": client.browser,
            "$os": client.os,
            "$device_type": client.device,
            "$lib": "web",
            "$lib_version": "1.200.0",
            "$session_id": self.session_id,
            "$referrer": self.source.referrer.unwrap_or("$direct"),
            "$referring_domain": self.source.referrer
                .and_then(|r| r.strip_prefix("https://"))
                .map_or("$direct", |r| r.trim_end_matches('/')),
        }));
        if let Some((source, medium, campaign)) = self.source.utm {
            properties.insert("utm_source".to_owned(), json!(source));
            properties.insert("utm_medium".to_owned(), json!(medium));
            properties.insert("utm_campaign".to_owned(), json!(campaign));
        }
        properties.extend(object(extra));
        out.push(DemoEvent {
            id: rng.uuid(),
            event,
            distinct_id: self.visitor.distinct_id.clone(),
            timestamp: self.at,
            wire: Wire::Posthog,
            properties,
        });
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One request: its route, its body and how many events it carries.
#[derive(Debug, Clone)]
pub struct Batch {
    pub wire: Wire,
    pub body: String,
    pub events: usize,
}

/// The request bodies that carry `events`: at most `size` events and [`MAX_BATCH_BYTES`] each,
/// one route per body, in time order within each route.
pub fn batches(events: &[DemoEvent], write_key: &str, size: usize) -> Vec<Batch> {
    let size = size.clamp(1, MAX_BATCH_EVENTS);
    let mut done = Vec::new();
    let mut open: BTreeMap<Wire, (Vec<String>, usize)> = BTreeMap::new();
    let close = |wire: Wire, items: Vec<String>| {
        let key_field = match wire {
            Wire::Posthog => "api_key",
            Wire::Segment => "writeKey",
        };
        Batch {
            wire,
            events: items.len(),
            body: format!(
                "{{{}:{},\"batch\":[{}]}}",
                Value::from(key_field),
                Value::from(write_key),
                items.join(",")
            ),
        }
    };
    for event in events {
        let text = event.to_wire().to_string();
        let (items, bytes) = open.entry(event.wire).or_default();
        if !items.is_empty() && (items.len() >= size || *bytes + text.len() > MAX_BATCH_BYTES) {
            done.push(close(event.wire, std::mem::take(items)));
            *bytes = 0;
        }
        *bytes += text.len() + 1;
        items.push(text);
    }
    for (wire, (items, _)) in open {
        if !items.is_empty() {
            done.push(close(wire, items));
        }
    }
    done
}

/// What a run generated and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Events sent, every one accepted.
    pub events: usize,
    pub requests: usize,
    pub visitors: usize,
    /// Visitors seen on more than one day.
    pub returning_visitors: usize,
    pub sessions: usize,
    /// Distinct visitors at each step of [`FUNNEL`] (each step counted on its own).
    pub funnel: [usize; 4],
    /// Distinct UTC days with events.
    pub days: usize,
    pub first: Option<OffsetDateTime>,
    pub last: Option<OffsetDateTime>,
    pub elapsed: Duration,
}

impl Summary {
    /// The figures of `events`, before anything is sent.
    pub fn of(events: &[DemoEvent]) -> Self {
        let mut days_by_visitor: BTreeMap<&str, BTreeSet<time::Date>> = BTreeMap::new();
        let mut sessions = BTreeSet::new();
        let mut steps: [BTreeSet<&str>; 4] = Default::default();
        for event in events {
            days_by_visitor
                .entry(&event.distinct_id)
                .or_default()
                .insert(event.timestamp.date());
            if let Some(Value::String(session)) = event.properties.get("$session_id") {
                sessions.insert(session.as_str());
            }
            if let Some(step) = FUNNEL.iter().position(|name| *name == event.event) {
                steps[step].insert(&event.distinct_id);
            }
        }
        let days: BTreeSet<time::Date> = events.iter().map(|e| e.timestamp.date()).collect();
        Self {
            events: events.len(),
            requests: 0,
            visitors: days_by_visitor.len(),
            returning_visitors: days_by_visitor.values().filter(|d| d.len() > 1).count(),
            sessions: sessions.len(),
            funnel: steps.map(|users| users.len()),
            days: days.len(),
            first: events.first().map(|e| e.timestamp),
            last: events.last().map(|e| e.timestamp),
            elapsed: Duration::ZERO,
        }
    }

    /// The lines printed at the end of a run, with where to look.
    pub fn report(&self, url: &str) -> String {
        let seconds = self.elapsed.as_secs_f64().max(0.001);
        let date = |at: Option<OffsetDateTime>| at.map(|at| at.date().to_string());
        format!(
            "demo: {} events in {} requests, {:.1} s ({:.0} events/s)\n\
             \x20 {} visitors ({} came back on another day), {} sessions, over {} days ({} to {})\n\
             \x20 funnel: {} viewed a product, {} added to the cart, {} started checkout, {} ordered\n\
             open {url}/analytics and sign in as an admin to look around (built-in project)",
            self.events,
            self.requests,
            seconds,
            self.events as f64 / seconds,
            self.visitors,
            self.returning_visitors,
            self.sessions,
            self.days,
            date(self.first).unwrap_or_default(),
            date(self.last).unwrap_or_default(),
            self.funnel[0],
            self.funnel[1],
            self.funnel[2],
            self.funnel[3],
        )
    }
}

/// Makes up the traffic of `options.plan` and sends it through edge's SDK routes with the
/// built-in project's write key; returns what was sent once every event was accepted.
pub async fn run(options: &Options) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let (key, fresh) = write_key(&http, options).await?;
    let events = generate(&options.plan, OffsetDateTime::now_utc());
    let mut summary = Summary::of(&events);
    let batches = batches(&events, &key, options.batch_size);
    drop(events);
    summary.requests = batches.len();

    // A key issued a moment ago reaches ingest through the stream: until then it is unknown.
    let key_known_by = fresh.then(|| Instant::now() + Duration::from_secs(30));
    let sending = Instant::now();
    let mut sent = 0;
    let mut answers = futures_util::stream::iter(batches)
        .map(|batch| {
            let http = &http;
            async move {
                let url = format!("{}{}", options.url, batch.wire.path());
                send(http, &url, &batch.body, key_known_by).await?;
                anyhow::Ok(batch.events)
            }
        })
        .buffer_unordered(CONCURRENT_REQUESTS);
    while let Some(answer) = answers.next().await {
        sent += answer?;
        if options.progress {
            let rate = sent as f64 / sending.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\rdemo: {sent} / {} events sent, {rate:.0} events/s   ",
                summary.events
            );
        }
    }
    if options.progress {
        eprintln!();
    }
    anyhow::ensure!(
        sent == summary.events,
        "sent {sent} of {} events",
        summary.events
    );
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The built-in project's write key, issued first if it has none (then `true`), read with the
/// admin's session.
async fn write_key(http: &reqwest::Client, options: &Options) -> anyhow::Result<(String, bool)> {
    let login: Value = answer(
        http.post(format!("{}/api/auth/login", options.url))
            .json(&json!({ "email": options.email, "password": options.password.expose() }))
            .send()
            .await
            .with_context(|| format!("signing in at {} (is the stack running?)", options.url))?,
        &format!("signing in as {}", options.email),
    )
    .await?;
    let token = login["access_token"]
        .as_str()
        .context("the login answer holds no access token")?;
    let projects: contract::auth::ProjectList = answer(
        http.get(format!("{}/api/admin/projects", options.url))
            .bearer_auth(token)
            .send()
            .await?,
        "listing the projects",
    )
    .await?;
    let project = projects
        .projects
        .iter()
        .find(|project| project.id == contract::BUILTIN_PROJECT_ID)
        .context("the built-in project does not exist yet")?;
    if let Some(key) = project.keys.first() {
        return Ok((key.key.clone(), false));
    }
    let issued: contract::auth::WriteKeyView = answer(
        http.post(format!(
            "{}/api/admin/projects/{}/keys",
            options.url,
            contract::BUILTIN_PROJECT_ID
        ))
        .bearer_auth(token)
        .send()
        .await?,
        "issuing a write key for the built-in project",
    )
    .await?;
    Ok((issued.key, true))
}

/// The JSON of a successful answer; otherwise an error with the status and the answer's body.
async fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> anyhow::Result<T> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).with_context(|| format!("{what}: unexpected answer {text}"))
}

/// Sends one batch until it is stored: 429 and 503 are retried after their `Retry-After`, a
/// lost connection a few times, a 401 while a fresh key is not known yet; any other refusal, or
/// an event rejected inside a 200, is an error with the answer's body.
async fn send(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    key_known_by: Option<Instant>,
) -> anyhow::Result<()> {
    const ATTEMPTS: u32 = 20;
    for attempt in 1..=ATTEMPTS {
        let last = attempt == ATTEMPTS;
        let response = match http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) if !last && (err.is_connect() || err.is_timeout()) => {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                continue;
            }
            Err(err) => return Err(err).with_context(|| format!("sending a batch to {url}")),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=299 => {
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if let Some(first) = answer["rejected"].as_array().and_then(|r| r.first()) {
                    anyhow::bail!("{url} rejected events of a batch, the first: {first}");
                }
                return Ok(());
            }
            429 | 503 if !last => {
                let wait = Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 30));
                tokio::time::sleep(wait).await;
            }
            401 if key_known_by.is_some_and(|by| Instant::now() < by) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ => anyhow::bail!("{url} answered {status}: {text}"),
        }
    }
    anyhow::bail!("{url} did not store a batch after {ATTEMPTS} attempts")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        // A Wednesday afternoon.
        OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("a valid instant")
    }

    fn plan(visitors: u32, seed: u64) -> Plan {
        Plan {
            visitors,
            seed,
            ..Plan::default()
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_traffic_and_another_seed_other_traffic() {
        let first = generate(&plan(200, 7), now());
        assert_eq!(first, generate(&plan(200, 7), now()));
        assert_ne!(first, generate(&plan(200, 8), now()));
        let ids: BTreeSet<Uuid> = first.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), first.len(), "every event has an id of its own");
    }

    #[test]
    fn every_event_lies_in_the_requested_days_before_the_run() {
        for days in [1, 3, 28] {
            let plan = Plan {
                days,
                ..plan(300, 3)
            };
            let events = generate(&plan, now());
            let start = now() - time::Duration::days(i64::from(days));
            assert!(!events.is_empty());
            for event in &events {
                assert!(
                    event.timestamp >= start && event.timestamp < now(),
                    "{days} days: {} is outside {start} .. {}",
                    event.timestamp,
                    now()
                );
            }
            assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        }
        let summary = Summary::of(&generate(&Plan::default(), now()));
        assert!(summary.days >= 28, "{} days", summary.days);
    }

    #[test]
    fn the_funnel_narrows_at_every_step_with_realistic_drop_off() {
        for (visitors, seed) in [(1500, 1), (1500, 2), (120, 7), (120, 11)] {
            let summary = Summary::of(&generate(&plan(visitors, seed), now()));
            let f = summary.funnel;
            assert!(
                f[0] > f[1] && f[1] > f[2] && f[2] > f[3] && f[3] > 0,
                "{visitors} visitors, seed {seed}: {f:?}"
            );
            if visitors >= 1000 {
                let rate = |step: usize| f[step] as f64 / f[step - 1] as f64;
                assert!((0.25..0.6).contains(&rate(1)), "{f:?}");
                assert!((0.45..0.75).contains(&rate(2)), "{f:?}");
                assert!((0.55..0.85).contains(&rate(3)), "{f:?}");
            }
        }
    }

    #[test]
    fn about_the_configured_share_of_visitors_comes_back_on_another_day() {
        for share in [0.2, 0.35] {
            let plan = Plan {
                returning_share: share,
                ..plan(3000, 5)
            };
            let summary = Summary::of(&generate(&plan, now()));
            assert_eq!(summary.visitors, 3000);
            let measured = summary.returning_visitors as f64 / summary.visitors as f64;
            assert!(
                (measured - share).abs() < 0.04,
                "configured {share}, measured {measured}"
            );
        }
    }

    #[test]
    fn weekends_and_nights_are_quieter() {
        let events = generate(&plan(3000, 9), now());
        let pageviews = events.iter().filter(|e| e.event == "$pageview");
        let (mut weekday, mut weekend, mut night, mut evening) = (0, 0, 0, 0);
        for event in pageviews {
            match event.timestamp.weekday() {
                Weekday::Saturday | Weekday::Sunday => weekend += 1,
                _ => weekday += 1,
            }
            match event.timestamp.hour() {
                2..=4 => night += 1,
                18..=20 => evening += 1,
                _ => {}
            }
        }
        // Per day: five weekdays against two weekend days.
        assert!(weekend * 5 < weekday * 2 * 8 / 10, "{weekday} / {weekend}");
        assert!(night * 5 < evening, "{night} / {evening}");
    }

    #[test]
    fn visitors_have_a_mix_of_browsers_devices_and_referrers() {
        let events = generate(&plan(1000, 4), now());
        let values = |key: &str| -> BTreeSet<String> {
            events
                .iter()
                .filter_map(|e| e.properties.get(key).and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        };
        for browser in ["Chrome", "Safari", "Firefox", "Edge", "Mobile Safari"] {
            assert!(values("$browser").contains(browser), "{browser}");
        }
        assert_eq!(
            values("$device_type"),
            ["Desktop", "Mobile", "Tablet"].map(str::to_owned).into()
        );
        for domain in ["www.google.com", "x.com", "news.ycombinator.com", "$direct"] {
            assert!(values("$referring_domain").contains(domain), "{domain}");
        }
        assert_eq!(values("utm_campaign").len(), 1);
        let names: BTreeSet<&str> = events.iter().map(|e| e.event).collect();
        for name in FUNNEL
            .iter()
            .chain(&["$pageview", "signup", "search", "tab_changed"])
        {
            assert!(names.contains(name), "{name}");
        }
        // One visitor keeps one machine across sessions.
        let mut browsers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for event in events.iter().filter(|e| e.wire == Wire::Posthog) {
            if let Some(browser) = event.properties.get("$browser").and_then(Value::as_str) {
                browsers
                    .entry(&event.distinct_id)
                    .or_default()
                    .insert(browser);
            }
        }
        assert!(browsers.values().all(|b| b.len() == 1));
    }

    #[test]
    fn batches_carry_every_event_once_within_the_limits_of_each_route() {
        let events = generate(&plan(300, 2), now());
        let batches = batches(&events, "ea_key", 500);
        let mut ids = BTreeSet::new();
        for batch in &batches {
            assert!(batch.events <= 500 && batch.body.len() <= MAX_BATCH_BYTES);
            let body: Value = serde_json::from_str(&batch.body).expect("a JSON body");
            let items = body["batch"].as_array().expect("a batch");
            assert_eq!(items.len(), batch.events);
            for item in items {
                let id = match batch.wire {
                    Wire::Posthog => {
                        assert_eq!(body["api_key"], "ea_key");
                        assert!(item["properties"]["$current_url"].is_string());
                        &item["uuid"]
                    }
                    Wire::Segment => {
                        assert_eq!(body["writeKey"], "ea_key");
                        assert_eq!(item["event"], "order_completed");
                        &item["messageId"]
                    }
                };
                assert!(item["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
                ids.insert(id.as_str().expect("an id").to_owned());
            }
        }
        assert_eq!(ids.len(), events.len());
        assert!(batches.iter().any(|b| b.wire == Wire::Segment));
    }

    #[test]
    fn options_are_read_from_flags_and_bad_values_are_named() {
        let defaults = || Options {
            url: "http://127.0.0.1:8000".to_owned(),
            email: "admin@example.com".to_owned(),
            password: Secret::new("x"),
            plan: Plan::default(),
            batch_size: 500,
            progress: true,
        };
        let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let options = Options::parse(
            &args("--url http://host:9000/ --days=14 --visitors 20 --seed 42 --batch 100"),
            defaults(),
        )
        .expect("valid options");
        assert_eq!(options.url, "http://host:9000");
        assert_eq!(
            options.plan,
            Plan {
                days: 14,
                visitors: 20,
                seed: 42,
                ..Plan::default()
            }
        );
        assert_eq!(options.batch_size, 100);
        let error = |text: &str| {
            Options::parse(&args(text), defaults())
                .expect_err("refused")
                .to_string()
        };
        assert!(error("--days 0").starts_with("--days:"));
        assert!(error("--batch 5000").starts_with("--batch:"));
        assert!(error("--seed").contains("needs a value"));
        assert!(error("--colour red").contains("unknown option"));
    }
}
