//! The dashboard in headless Chromium against the real stack: what a user clicks becomes events
//! of the built-in project in ClickHouse, exactly once each, including the clicks made just
//! before the page is left, and an analyst sees them in Analytics.

use std::collections::BTreeMap;

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};

use crate::browser::{
    WAIT, screenshot, sign_in, texts, wait_for_path, wait_for_sign_in_form, wait_for_texts,
};

const SHOPPER: &str = "shopper@example.com";
const SHOPPER_PASSWORD: &str = "window shopping 2026";
const ANALYST: &str = "analyst@example.com";
const ANALYST_PASSWORD: &str = "looking at numbers 2026";

/// Blocking calls through edge, for a test that drives a browser.
struct Api {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Api {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            runtime: tokio::runtime::Runtime::new()?,
            http: reqwest::Client::new(),
        })
    }

    /// Registers a user; their id.
    fn register(
        &self,
        edge: &ServiceHandle,
        email: &str,
        password: &str,
        name: &str,
    ) -> anyhow::Result<String> {
        let user = self.runtime.block_on(crate::helpers::register(
            &self.http, edge, email, password, name,
        ))?;
        user["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no id in {user}"))
    }

    fn call(
        &self,
        method: reqwest::Method,
        url: String,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        self.runtime.block_on(crate::helpers::call(
            &self.http,
            method,
            url,
            Some(token),
            body,
        ))
    }

    /// Waits until the sink has stored every message of the stream (nothing pending, nothing
    /// waiting for its ack), as the admin status reports it.
    fn wait_for_sink(&self, edge: &ServiceHandle, admin: &str) -> anyhow::Result<()> {
        let mut last = serde_json::Value::Null;
        devstack::wait::until("the sink to have stored every message", WAIT, || {
            let status = self.call(
                reqwest::Method::GET,
                edge.url("/api/admin/status"),
                admin,
                None,
            );
            last = status.map(|(_, body)| body).unwrap_or_default();
            last["consumers"].as_array().is_some_and(|consumers| {
                consumers.iter().any(|c| {
                    c["name"] == contract::streams::SINK_CONSUMER
                        && c["pending"] == 0
                        && c["ack_pending"] == 0
                })
            })
        })
        .map_err(|err| err.context(format!("status: {last}")))
    }
}

/// Events of `user` in ClickHouse, counted by name (each event id once).
fn stored_events(stack: &TestStack, user: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let sql = format!(
        "SELECT event, uniqExact(event_id) FROM events WHERE project_id = '{}' AND distinct_id = '{user}' \
         GROUP BY event FORMAT TSV",
        contract::BUILTIN_PROJECT_ID
    );
    let out = stack.clickhouse_sql(&sql)?;
    out.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (event, count) = line
                .split_once('\t')
                .ok_or_else(|| anyhow::anyhow!("unexpected row {line:?}"))?;
            Ok((event.to_owned(), count.parse()?))
        })
        .collect()
}

/// Rows of `user` in ClickHouse, copies included (no `FINAL`): what the sink wrote.
fn stored_rows(stack: &TestStack, user: &str) -> anyhow::Result<u64> {
    let sql = format!(
        "SELECT count() FROM events WHERE project_id = '{}' AND distinct_id = '{user}' FORMAT TSV",
        contract::BUILTIN_PROJECT_ID
    );
    Ok(stack.clickhouse_sql(&sql)?.trim().parse()?)
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .map(|&(event, n)| (event.to_owned(), n))
        .collect()
}

/// Waits until ClickHouse holds exactly `expected` for `user`.
fn wait_for_events(
    stack: &TestStack,
    user: &str,
    expected: &BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    let mut last = BTreeMap::new();
    devstack::wait::until("the clicks stored as events", WAIT, || {
        last = stored_events(stack, user).unwrap_or_default();
        &last == expected
    })
    .map_err(|err| err.context(format!("stored: {last:?}, expected: {expected:?}")))
}

#[test]
fn a_users_clicks_on_the_dashboard_become_events_once_each_even_when_the_page_is_left_at_once()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let api = Api::new()?;
    let user = api.register(&edge, SHOPPER, SHOPPER_PASSWORD, "Shopper")?;
    let admin = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
    let dir = TempDir::new("chromium")?;
    let browser = Browser::start(dir.path())?;

    browser.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, SHOPPER, SHOPPER_PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Shopper", WAIT)?;
    browser.click("#nav-dashboard")?;
    browser.wait_for_text("#dashboard-page h2", "Dashboard", WAIT)?;
    wait_for_path(&browser, "/dashboard")?;

    // Two calls to action, two products looked at, three things in the cart, the checkout.
    let clicked_on = time::OffsetDateTime::now_utc().date();
    browser.click("#highlight-guide")?;
    browser.wait_for_text("#highlight-chosen", "Read the guide", WAIT)?;
    browser.click("#highlight-invite")?;
    browser.click("#product-notebook .view-product")?;
    browser.wait_for_text("#product-notebook .about", "A5", WAIT)?;
    browser.click("#product-mug .view-product")?;
    browser.click("#product-notebook .add-to-cart")?;
    browser.click("#product-notebook .add-to-cart")?;
    browser.click("#product-mug .add-to-cart")?;
    browser.wait_for_text("#cart-count", "3", WAIT)?;
    browser.wait_for_text("#cart-total", "€47.00", WAIT)?;
    browser.execute("window.scrollTo(0, 0)")?;
    let shots = [
        screenshot(&browser, "dashboard", 1280)?,
        screenshot(&browser, "dashboard", 390)?,
    ];
    browser.set_window_size(1280, 900)?;
    browser.click("#checkout-start")?;
    browser.type_into("#shipping-name", "Ada")?;
    browser.type_into("#shipping-city", "London")?;
    browser.click("#shipping-continue")?;
    browser.click("#payment-paypal")?;
    browser.click("#place-order")?;
    browser.wait_for_text(
        "#order-confirmation",
        "Order placed: 3 items, €47.00.",
        WAIT,
    )?;
    // Plans: a tab and a plan.
    browser.click("#dash-tab-plans")?;
    browser.click("#plan-team .choose-plan")?;
    browser.wait_for_text("#plan-team .choose-plan", "Chosen", WAIT)?;

    // Home and the dashboard were opened once each.
    let expected = counts(&[
        ("$pageview", 2),
        ("add_to_cart", 3),
        ("button_clicked", 2),
        ("checkout_started", 1),
        ("checkout_step", 1),
        ("order_completed", 1),
        ("plan_selected", 1),
        ("product_viewed", 2),
        ("tab_changed", 1),
    ]);
    let total: u64 = expected.values().sum();
    // The page says when everything is sent, and ingest's count agrees.
    devstack::wait::until("the page to have sent every event", WAIT, || {
        browser
            .execute(
                "const s = document.querySelector('#tracker-status'); \
                 return s ? [s.dataset.sent, s.dataset.waiting] : null",
            )
            .is_ok_and(|state| state == serde_json::json!([total.to_string(), "0"]))
    })?;
    browser.wait_for_text(
        "#tracker-status",
        &format!("{total} events sent, none waiting."),
        WAIT,
    )?;
    wait_for_events(&stack, &user, &expected)?;

    // What the events say: the order's value and payment, the product of each cart event.
    let order = stack.clickhouse_sql(&format!(
        "SELECT prop_values[indexOf(prop_keys, 'value')], \
             prop_values[indexOf(prop_keys, 'payment')], lib, browser, path FROM events \
             WHERE distinct_id = '{user}' AND event = 'order_completed' FORMAT TSV"
    ))?;
    assert_eq!(
        order.trim(),
        "47.0\tpaypal\tevent-analytics-web\tChrome\t/dashboard",
        "{order}"
    );

    // A click made as the page is left is not lost: the page sends it on its way out.
    browser.execute(
        "document.querySelector('#plan-hobby .choose-plan').click(); location.href = 'about:blank';",
    )?;
    let mut expected = expected;
    expected.insert("plan_selected".to_owned(), 2);
    wait_for_events(&stack, &user, &expected)?;
    // And nothing was written twice, though an event sent as the page is left may also have gone
    // out in the regular flush.
    api.wait_for_sink(&edge, &admin)?;
    assert_eq!(stored_rows(&stack, &user)?, total + 1);

    // An analyst sees those clicks in Analytics: today's bar of `button_clicked` holds the two
    // calls to action, the top events table the three cart additions, and the bar opens exactly
    // those two events in the explorer.
    let analyst_id = api.register(&edge, ANALYST, ANALYST_PASSWORD, "Analyst")?;
    let (status, _) = api.call(
        reqwest::Method::PUT,
        edge.url(&format!(
            "/api/admin/projects/{}/members/{analyst_id}",
            contract::BUILTIN_PROJECT_ID
        )),
        &admin,
        Some(&serde_json::json!({ "role": "analyst" })),
    )?;
    assert_eq!(
        status, 200,
        "the admin makes them an analyst of the built-in project"
    );
    let dir = TempDir::new("chromium-analyst")?;
    let analyst = Browser::start(dir.path())?;
    analyst.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&analyst)?;
    sign_in(&analyst, ANALYST, ANALYST_PASSWORD)?;
    analyst.wait_for_text("#signed-in-as", "Analyst", WAIT)?;
    // The day of the clicks in the built-in project's zone (UTC), which a run crossing midnight
    // has left: then the range runs from that day to today, in one bar of a month.
    let today = time::OffsetDateTime::now_utc().date();
    let range = if today == clicked_on {
        "range=today".to_owned()
    } else {
        format!("range=custom&from={clicked_on}&to={today}&interval=month")
    };
    analyst.goto(&edge.url(&format!("/analytics?{range}&event=button_clicked")))?;
    let bar = "#trends-chart rect.mark[data-series='all']";
    let mut bars = serde_json::Value::Null;
    devstack::wait::until("today's bar of button_clicked", WAIT, || {
        bars = analyst
            .execute(&format!(
                "return Array.from(document.querySelectorAll({bar:?})).map(e => e.dataset.value)"
            ))
            .unwrap_or_default();
        bars == serde_json::json!(["2"])
    })
    .map_err(|err| err.context(format!("the chart shows {bars}")))?;
    wait_for_texts(
        &analyst,
        "#top-event tr[data-value='add_to_cart'] td:nth-child(2)",
        &["3"],
    )?;
    analyst.click(bar)?;
    analyst.wait_for_text("#tab-explorer[aria-selected=true]", "Explorer", WAIT)?;
    wait_for_texts(
        &analyst,
        "#explorer tr.event-row .event-name",
        &["button_clicked", "button_clicked"],
    )?;
    assert_eq!(
        texts(&analyst, "#explorer tr.event-row .event-who")?,
        [user.as_str(), user.as_str()],
        "both clicks are the shopper's"
    );

    for shot in &shots {
        eprintln!("screenshot: {}", shot.display());
    }
    Ok(())
}
