//! The made-up traffic itself: visitors, their sessions, and the events each page sends.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::plan::Plan;
use super::rng::Rng;
use super::shop::{
    CONTENT_PAGES, Client, FIRST_SOURCES, HOURS, NETWORKS, PRODUCTS, Product, RETURN_SOURCES,
    SEARCHES, Source, weekday_weight,
};
use super::wire::{DemoEvent, Wire};

/// Sessions start at least this long before the run, so none ends in the future.
const SESSION_MARGIN: time::Duration = time::Duration::hours(1);
/// The site the visitors browse.
const HOST: &str = "shop.example";

/// Makes up the traffic of `plan` for the `plan.days` before `now`, ordered by time. The same
/// plan and `now` give the same events.
pub(crate) fn generate(plan: &Plan, now: OffsetDateTime) -> Vec<DemoEvent> {
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
        address: {
            let (network, _country) = rng.weighted(NETWORKS);
            format!("{network}.{}", 1 + rng.below(254))
        },
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
    /// The address the browser sends from, as PostHog's `$ip`: ingest locates the visitor by it.
    address: String,
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
    if rng.chance(shops) {
        shop(rng, &mut page, first, out);
    }
}

/// The shop funnel of a session: a few product pages, perhaps the cart, perhaps checkout.
fn shop(rng: &mut Rng, page: &mut Page<'_>, first: bool, out: &mut Vec<DemoEvent>) {
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
    page.track(
        rng,
        "add_to_cart",
        json!({ "product": product.1, "product_id": product.0, "price": product.2,
                "category": product.3, "quantity": quantity }),
        out,
    );
    page.go(rng, "/cart", out);
    if rng.chance(0.6) {
        checkout(rng, page, product, quantity, out);
    }
}

/// From the cart to checkout and, for most, an order (which the shop's server records).
fn checkout(
    rng: &mut Rng,
    page: &mut Page<'_>,
    product: Product,
    quantity: i64,
    out: &mut Vec<DemoEvent>,
) {
    let value = product.2 * quantity as f64;
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
        distinct_id: page.visitor.distinct_id.clone(),
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
            "$ip": self.visitor.address,
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
