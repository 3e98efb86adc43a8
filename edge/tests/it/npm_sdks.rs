//! The browser SDKs from npm, unmodified, as a site bundles them (esbuild, as its build would):
//! posthog-js and Segment's analytics-next on a page of another site (`shop.example`), pointed
//! at edge, in headless Chromium. Each pageview and event lands in ClickHouse once, and the
//! page logs no error.

use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;
use serde_json::json;

use crate::browser::WAIT;
use crate::helpers::create_project;
use crate::site::{self, SITE};

/// The events of `project_id` in ClickHouse (lib, event, host, path, plan, bot), and how many
/// rows hold them, copies included (no `FINAL`).
fn stored(stack: &TestStack, project_id: &str) -> anyhow::Result<(String, String)> {
    let sql = format!(
        "SELECT lib, event, host, path, prop_values[indexOf(prop_keys, 'plan')], is_bot \
         FROM events FINAL WHERE project_id = '{project_id}' ORDER BY lib, event FORMAT TSV"
    );
    let rows = format!("SELECT count() FROM events WHERE project_id = '{project_id}' FORMAT TSV");
    Ok((
        stack.clickhouse_sql(&sql)?.trim().to_owned(),
        stack.clickhouse_sql(&rows)?.trim().to_owned(),
    ))
}

#[test]
fn posthog_js_and_analytics_next_from_npm_on_another_site_land_each_event_once()
-> anyhow::Result<()> {
    let dir = TempDir::new("npm-sdks")?;
    let script = site::bundle(dir.path(), "browser-site.mjs")?;
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

    let settings = json!({ "edge": format!("http://127.0.0.1:{port}"), "key": key });
    let app = site::bundled_site(&settings, script, "<h1>Shop</h1>");
    let (shop, browser) = site::serve(&runtime, app, &dir.path().join("chromium"))?;
    browser.goto(&format!("{shop}/"))?;

    // Each SDK's pageview and event, on the shop's page (lib: analytics.js for Segment's, web
    // for posthog-js).
    let row = |lib: &str, event: &str, plan: &str| format!("{lib}\t{event}\t{SITE}\t/\t{plan}\t0");
    let first = [
        row("analytics.js", "$pageview", ""),
        row("analytics.js", "analytics-next signup", "pro"),
        row("web", "$pageview", ""),
        row("web", "posthog-js signup", "pro"),
    ];
    let mut last = (String::new(), String::new());
    devstack::wait::until("the four events in ClickHouse", WAIT, || {
        last = stored(&stack, &project_id).unwrap_or_default();
        last.0 == first.join("\n")
    })
    .map_err(|err| err.context(format!("ClickHouse holds:\n{}", last.0)))?;
    // Events sent after them arrive after them: then no copy of any came.
    browser.execute("shopPosthog.capture('done'); shopAnalytics.track('done'); return true")?;
    let all = [
        first[0].clone(),
        first[1].clone(),
        row("analytics.js", "done", ""),
        first[2].clone(),
        row("web", "done", ""),
        first[3].clone(),
    ];
    devstack::wait::until("the last events in ClickHouse", WAIT, || {
        last = stored(&stack, &project_id).unwrap_or_default();
        last.0 == all.join("\n")
    })
    .map_err(|err| err.context(format!("ClickHouse holds:\n{}", last.0)))?;
    assert_eq!(last.1, "6", "rows, copies included:\n{}", last.0);
    site::assert_no_problems(&browser)?;
    Ok(())
}
