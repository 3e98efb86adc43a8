//! Engagement from the trackers as they are: Plausible's tracker and posthog-js from npm,
//! unmodified and bundled as a site would, on a long page of another site (`shop.example`) in
//! headless Chromium. The visitor reads, scrolls to the bottom and moves on to the next page of
//! the single-page app: Plausible sends an `engagement`, posthog-js puts the page's duration
//! and scroll on the next `$pageview`. Neither becomes an event; the page's time on page and
//! scroll depth are what top pages answer for it, and what the web app's Pages table shows.

use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;
use serde_json::{Value, json};

use crate::browser::{WAIT, screenshot, sign_in, texts, wait_for_sign_in_form};
use crate::helpers::{call, create_project};
use crate::site::{self, SITE};

/// A page four screens long, which notes when it was scrolled (after the trackers' own
/// listeners, which were added first, have seen it).
const LONG_PAGE: &str = "<h1>Shop</h1><div style=\"height: 4000px\">A long read</div>\
     <script>addEventListener('scroll', () => { window.scrolled = true })</script>";

/// One line per stored row of `table` for the project: lib, event and path, in order.
fn stored(stack: &TestStack, table: &str, project_id: &str) -> String {
    let sql = format!(
        "SELECT lib, event, path FROM {table} WHERE project_id = '{project_id}' \
         ORDER BY lib, event, path FORMAT TSV"
    );
    stack
        .clickhouse_sql(&sql)
        .map(|rows| rows.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn trackers_engagement_is_the_time_on_page_and_scroll_depth_of_the_page_not_an_event()
-> anyhow::Result<()> {
    let dir = TempDir::new("engagement")?;
    let script = site::bundle(dir.path(), "engagement-site.mjs")?;
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let token = devstack::test::access_token(port, ADMIN, PASSWORD, WAIT)?;
    let (project_id, key) = runtime.block_on(create_project(&http, &edge, &token, "Shop"))?;
    site::list_site(&runtime, &edge, &token, &project_id)?;

    let settings =
        json!({ "edge": format!("http://127.0.0.1:{port}"), "key": key, "domain": SITE });
    let app = site::bundled_site(&settings, script, LONG_PAGE);
    let (shop, browser) = site::serve(&runtime, app, &dir.path().join("chromium"))?;
    browser.goto(&format!("{shop}/"))?;

    // Both pageviews stored, the page read for over a second and scrolled to its bottom, then
    // the next page of the app.
    let views = "plausible\t$pageview\t/\nweb\t$pageview\t/";
    devstack::wait::until("both pageviews in ClickHouse", WAIT, || {
        stored(&stack, "events", &project_id) == views
    })?;
    devstack::wait::until("the page read for over a second", WAIT, || {
        browser
            .execute("return performance.now() > 1500")
            .is_ok_and(|done| done == json!(true))
    })?;
    browser.execute("window.scrollTo(0, document.body.scrollHeight); return true")?;
    devstack::wait::until("the page scrolled", WAIT, || {
        browser
            .execute("return window.scrolled === true")
            .is_ok_and(|done| done == json!(true))
    })?;
    browser.execute("history.pushState({}, '', '/next'); return true")?;

    let engagements = "plausible\t$engagement\t/\nweb\t$engagement\t/";
    let mut last = String::new();
    devstack::wait::until("both trackers' engagement of /", WAIT, || {
        last = stored(&stack, "engagement", &project_id);
        last == engagements
    })
    .map_err(|err| err.context(format!("engagement holds:\n{last}")))?;
    // Each tracker told over a second on `/` and the whole page scrolled.
    let told = format!(
        "SELECT lib, toUInt64OrZero(prop_values[indexOf(prop_keys, '$engaged_ms')]) >= 1000, \
         prop_values[indexOf(prop_keys, '$scroll_depth')] FROM engagement \
         WHERE project_id = '{project_id}' AND path = '/' ORDER BY lib FORMAT TSV"
    );
    assert_eq!(
        stack.clickhouse_sql(&told)?.trim(),
        "plausible\t1\t100\nweb\t1\t100"
    );
    // The events are the four pageviews: no `engagement`, no `$pageleave`.
    let views = "plausible\t$pageview\t/\nplausible\t$pageview\t/next\n\
                 web\t$pageview\t/\nweb\t$pageview\t/next";
    devstack::wait::until("the four pageviews in ClickHouse", WAIT, || {
        last = stored(&stack, "events", &project_id);
        last == views
    })
    .map_err(|err| err.context(format!("events holds:\n{last}")))?;

    // Top pages: `/` was read for over a second per visitor and scrolled to its bottom;
    // `/next` has told nothing yet.
    let today = time::OffsetDateTime::now_utc().date();
    let (from, to) = (
        today.previous_day().unwrap_or(today),
        today.next_day().unwrap_or(today),
    );
    let path = format!("/api/query/top?project_id={project_id}&dimension=path&from={from}&to={to}");
    let (status, answer) = runtime.block_on(call(
        &http,
        reqwest::Method::GET,
        edge.url(&path),
        Some(&token),
        None,
    ))?;
    anyhow::ensure!(status == 200, "top pages: {status} {answer}");
    let page = |name: &str| -> Value {
        answer["values"]
            .as_array()
            .and_then(|values| values.iter().find(|v| v["value"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let front = page("/");
    let time_on_page = front["time_on_page_ms"].as_u64().unwrap_or_default();
    assert!(
        (1000..600_000).contains(&time_on_page),
        "time on / per visitor: {front}"
    );
    assert_eq!(front["scroll_depth"], json!(100), "{front}");
    let next = page("/next");
    assert!(next["count"].as_u64().is_some(), "{answer}");
    assert!(next.get("time_on_page_ms").is_none(), "{next}");
    site::assert_no_problems(&browser)?;

    // The web app's Pages table shows them (leaving the shop tells /next's too, by now or soon).
    browser.set_window_size(1280, 900)?;
    browser.goto(&edge.url("/analytics"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, ADMIN, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    browser.goto(&edge.url(&format!(
        "/analytics?tab=overview&project={project_id}&from={from}&to={to}"
    )))?;
    let front = "#top-path tr[data-value='/']";
    browser.wait_for_text(&format!("{front} .scroll-depth"), "100%", WAIT)?;
    let shown = browser.wait_for_text(&format!("{front} .time-on-page"), "s", WAIT)?;
    let seconds: u64 = shown.trim_end_matches('s').parse().unwrap_or_default();
    assert_eq!(
        seconds,
        (time_on_page as f64 / 1000.0).round() as u64,
        "shown {shown:?} for {time_on_page} ms"
    );
    let headers = texts(&browser, "#top-path th")?;
    assert_eq!(
        headers,
        ["Pages", "Events", "Users", "Time on page", "Scroll depth"]
    );
    browser.execute("document.querySelector('#top-path').scrollIntoView(); return true")?;
    screenshot(&browser, "time-on-page", 1280)?;
    Ok(())
}
