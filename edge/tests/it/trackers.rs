//! The tracker scripts edge serves, as a site's owner adds them: Plausible's and Umami's tags,
//! exactly as they document them, on a page of another site (`shop.example`, which Chromium
//! resolves to 127.0.0.2), in headless Chromium against the real stack. Every pageview and
//! event lands in ClickHouse once, and the page logs no error.

use axum::extract::{Path, State};
use axum::response::Html;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;
use serde_json::json;

use devstack::browser::Browser;

use crate::browser::{WAIT, calls_to, wait_for_calls};
use crate::helpers::create_project;
use crate::site::{self, PROBLEMS, SITE};

/// What a page shows: edge's address and the project's id.
#[derive(Clone)]
struct Site {
    edge: String,
    project_id: String,
}

/// The shop's pages: `plausible`, `features` (Plausible's other extensions) and `umami`, each
/// with its product's tag.
async fn page(State(site): State<Site>, Path(name): Path<String>) -> Html<String> {
    let edge = &site.edge;
    let body = match name.as_str() {
        "plausible" => format!(
            r#"<script defer data-domain="{SITE}" src="{edge}/js/script.outbound-links.js"></script>
<script>window.plausible = window.plausible || function() {{ (window.plausible.q = window.plausible.q || []).push(arguments) }}</script>
<script>plausible('Signup', {{props: {{plan: 'pro'}}}})</script>
</head><body><a id="out" href="{edge}/login" target="_blank">Elsewhere</a>
<a id="away" href="{edge}/login?from=shop">Leave</a>"#
        ),
        "features" => format!(
            r#"<script defer data-domain="{SITE}" src="{edge}/js/script.file-downloads.tagged-events.hash.js"></script>
</head><body><a id="pdf" href="/report.pdf" target="_blank">Report</a>
<button id="tagged" class="plausible-event-name=Buy+Now plausible-event-plan=pro">Buy</button>
<form id="join" class="plausible-event-name--Join+Us" onsubmit="event.preventDefault()">
<input id="email"><button id="send">Join</button></form>
<div class="plausible-event-name=Far"><div><div><div><span id="deep">Deep</span></div></div></div></div>
<a class="plausible-event-name--Docs" href="{edge}/login" target="_blank"><b><i id="docs">Docs</i></b></a>"#
        ),
        // Plausible's `manual` and `pageview-props`: a redacted address, the tag's props under
        // the call's own.
        "manual" => format!(
            r#"<script defer data-domain="{SITE}" src="{edge}/js/script.manual.pageview-props.js" event-plan="basic"></script>
<script>window.plausible = window.plausible || function() {{ (window.plausible.q = window.plausible.q || []).push(arguments) }}</script>
<script>plausible('pageview', {{u: '/user/_id_'}}); plausible('Upgrade', {{props: {{plan: 'pro'}}}})</script>
</head><body>"#
        ),
        "umami" => format!(
            r#"<script defer src="{edge}/script.js" data-website-id="{}" data-tag="spring" data-before-send="beforeSend"></script>
<script>function beforeSend(type, payload) {{
  return payload.name === 'secret' ? null : payload.name === 'signup' ? {{ ...payload, name: 'signed up' }} : payload;
}}</script>
</head><body><button id="signup" onclick="umami.track('signup', {{plan: 'pro'}})">Sign up</button>
<button id="secret" onclick="umami.track('secret')">Secret</button>
<button id="buy" data-umami-event="Buy" data-umami-event-plan="pro">Buy</button>
<button id="checkout" onclick="umami.track({{ url: '/checkout', title: 'Pay' }})">Pay</button>"#,
            site.project_id
        ),
        // Both scripts where they send nothing: Plausible's on a 127.x address, Umami's on a
        // host its data-domains leave out.
        "quiet" => format!(
            r#"<script defer data-domain="{SITE}" src="{edge}/js/script.js"></script>
<script defer src="{edge}/script.js" data-website-id="{}" data-domains="elsewhere.example"></script>
</head><body>"#,
            site.project_id
        ),
        // Plausible's legacy name with `compat` (the tag found by its id), `exclusions` and
        // `revenue`; the page records what it sends.
        "excluded" => format!(
            r#"<script>window.bodies = []; const send = window.fetch;
window.fetch = (url, options) => {{ bodies.push(JSON.parse(options.body)); return send(url, options) }}</script>
<script defer id="plausible" data-domain="{SITE}" data-exclude="/nope,/exclu*" src="{edge}/js/plausible.compat.exclusions.revenue.js"></script>
</head><body>"#
        ),
        // Umami's script told to honour Do Not Track, in a browser that asks for it.
        "dnt" => format!(
            r#"<script>Object.defineProperty(Navigator.prototype, 'doNotTrack', {{ get: () => '1' }})</script>
<script defer src="{edge}/script.js" data-website-id="{}" data-do-not-track="true"></script>
</head><body>"#,
            site.project_id
        ),
        // The file a link downloads.
        _ => return Html(String::new()),
    };
    Html(format!(
        "<!doctype html><html><head><title>Shop</title>{PROBLEMS}{SENT}{body}</body></html>"
    ))
}

/// Notes the status of each event the page's script sends to `/api/event` in `window.sent`,
/// leaving out the engagements a page's hiding or leaving sends at moments of the browser's
/// choosing (those are checked in ClickHouse).
const SENT: &str = "<script>window.sent = []; const sendEvent = window.fetch;
window.fetch = (url, options) => {
  const sending = sendEvent(url, options);
  let name = null;
  try { name = JSON.parse(options.body).n } catch (e) { /* not JSON */ }
  if (String(url).endsWith('/api/event') && name !== 'engagement') {
    sending.then(answer => sent.push(answer.status), () => sent.push(0));
  }
  return sending;
}</script>";

/// Waits until the events the page sent to `/api/event` (engagements left out) got exactly
/// the statuses `expected`.
fn wait_for_sent(browser: &Browser, expected: &[u64]) -> anyhow::Result<()> {
    let mut last = json!(null);
    devstack::wait::until(&format!("events sent answered {expected:?}"), WAIT, || {
        last = browser.execute("return window.sent").unwrap_or_default();
        last == json!(expected)
    })
    .map_err(|err| err.context(format!("they answered {last}")))
}

/// The events of `project_id` in ClickHouse, one line each (lib, event, path, plan, whether
/// its url is edge's, tag).
fn stored(stack: &TestStack, project_id: &str) -> anyhow::Result<String> {
    let sql = format!(
        "SELECT lib, event, path, prop_values[indexOf(prop_keys, 'plan')], \
         startsWith(prop_values[indexOf(prop_keys, 'url')], 'http://127.0.0.1:'), \
         prop_values[indexOf(prop_keys, '$tag')] \
         FROM events FINAL WHERE project_id = '{project_id}' ORDER BY lib, event, path FORMAT TSV"
    );
    Ok(stack.clickhouse_sql(&sql)?.trim().to_owned())
}

/// Rows of `project_id` in ClickHouse, copies included (no `FINAL`).
fn rows(stack: &TestStack, project_id: &str) -> anyhow::Result<u64> {
    let sql = format!("SELECT count() FROM events WHERE project_id = '{project_id}' FORMAT TSV");
    Ok(stack.clickhouse_sql(&sql)?.trim().parse()?)
}

#[test]
fn plausible_and_umami_tags_on_another_site_land_each_pageview_and_event_once() -> anyhow::Result<()>
{
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let token = devstack::test::access_token(port, ADMIN, PASSWORD, WAIT)?;
    let (project_id, _) = runtime.block_on(create_project(&http, &edge, &token, "Shop"))?;
    site::list_site(&runtime, &edge, &token, &project_id)?;

    let site = Site {
        edge: format!("http://127.0.0.1:{port}"),
        project_id: project_id.clone(),
    };
    let app = axum::Router::new()
        .route("/{name}", axum::routing::get(page))
        .with_state(site);
    let dir = TempDir::new("chromium")?;
    let (shop, browser) = site::serve(&runtime, app, dir.path())?;

    // Plausible: the queued custom event and the pageview, then an outbound link's click.
    browser.goto(&format!("{shop}/plausible"))?;
    wait_for_sent(&browser, &[202, 202])?;
    browser.click("#out")?;
    wait_for_sent(&browser, &[202, 202, 202])?;
    site::assert_no_problems(&browser)?;
    // One in the same tab: the page is left at once, and the event still arrives.
    browser.click("#away")?;
    crate::browser::wait_for_path(&browser, "/login")?;

    // Plausible's other extensions: a file's download, a tagged button, a hash change.
    browser.goto(&format!("{shop}/features"))?;
    wait_for_sent(&browser, &[202])?;
    browser.click("#pdf")?;
    wait_for_sent(&browser, &[202, 202])?;
    browser.click("#tagged")?;
    wait_for_sent(&browser, &[202, 202, 202])?;
    browser.execute("location.hash = 'pricing'")?;
    wait_for_sent(&browser, &[202, 202, 202, 202])?;
    // Inside a tagged form only its submit counts (a click into its input or on its button is
    // none); a tag 4 levels up is too far; a tagged link 2 levels up sends its url.
    browser.click("#email")?;
    browser.click("#send")?;
    wait_for_sent(&browser, &[202; 5])?;
    browser.click("#deep")?;
    browser.click("#docs")?;
    wait_for_sent(&browser, &[202; 6])?;
    site::assert_no_problems(&browser)?;

    browser.goto(&format!("{shop}/manual"))?;
    wait_for_sent(&browser, &[202, 202])?;
    site::assert_no_problems(&browser)?;

    // An excluded path sends no pageview (and says why); a goal's revenue goes as `$`.
    browser.goto(&format!("{shop}/excluded"))?;
    devstack::wait::until("the script to load", WAIT, || {
        browser
            .execute("return typeof window.plausible === 'function'")
            .is_ok_and(|loaded| loaded == json!(true))
    })?;
    browser.execute(
        "plausible('Purchase', { revenue: { currency: 'EUR', amount: 9.5 }, interactive: false })",
    )?;
    wait_for_sent(&browser, &[202])?;
    assert_eq!(
        browser.execute("return bodies.map(body => [body.n, body.$, body.i])")?,
        json!([["Purchase", { "currency": "EUR", "amount": 9.5 }, false]])
    );
    // An automated browser (here Cypress) is ignored, silently, as Plausible does.
    browser.execute(
        "window.Cypress = {}; plausible('Bot', { callback: () => { window.botDone = true } })",
    )?;
    devstack::wait::until("the ignored call to be done", WAIT, || {
        browser
            .execute("return !!window.botDone")
            .is_ok_and(|done| done == json!(true))
    })?;
    assert_eq!(browser.execute("return window.sent")?, json!([202]));
    assert_eq!(
        browser.execute("return window.problems")?,
        json!(["warn Ignoring Event: exclusion rule"])
    );

    // Umami: the pageview, then umami.track, a tagged button and a payload of the page's own.
    browser.goto(&format!("{shop}/umami"))?;
    wait_for_calls(&browser, "/api/send", &[200])?;
    browser.click("#signup")?;
    wait_for_calls(&browser, "/api/send", &[200, 200])?;
    // data-before-send drops `secret`.
    browser.click("#secret")?;
    browser.click("#buy")?;
    wait_for_calls(&browser, "/api/send", &[200, 200, 200])?;
    // Umami's own payload, over the page's.
    browser.click("#checkout")?;
    wait_for_calls(&browser, "/api/send", &[200, 200, 200, 200])?;
    site::assert_no_problems(&browser)?;

    // Nothing from a page on a loopback address (Plausible), off data-domains (Umami) or, with
    // data-do-not-track, in a browser asking not to be tracked (Umami): each
    // call is done (Plausible's callback, Umami's promise) without a request.
    browser.goto(&format!("{}/quiet", shop.replace(SITE, "127.0.0.2")))?;
    devstack::wait::until("both scripts to be done with their calls", WAIT, || {
        browser
            .execute(
                "if (window.plausible && window.umami && !window.asked) {
                   window.asked = true;
                   plausible('Quiet', { callback: () => { window.plausibleDone = true } });
                   umami.track('quiet').then(() => { window.umamiDone = true });
                 }
                 return !!(window.plausibleDone && window.umamiDone)",
            )
            .is_ok_and(|done| done == json!(true))
    })?;
    assert_eq!(calls_to(&browser, "/api/event")?, Vec::<u64>::new());
    assert_eq!(calls_to(&browser, "/api/send")?, Vec::<u64>::new());
    let problems = browser.execute("return window.problems")?;
    assert_eq!(
        problems,
        json!([
            "warn Ignoring Event: localhost",
            "warn Ignoring Event: localhost"
        ]),
        "Plausible's script says why, as Plausible's does"
    );

    browser.goto(&format!("{shop}/dnt"))?;
    devstack::wait::until("Umami's call to be done", WAIT, || {
        browser
            .execute(
                "if (window.umami && !window.asked) {
                   window.asked = true;
                   umami.track('tracked anyway').then(() => { window.umamiDone = true });
                 }
                 return !!window.umamiDone",
            )
            .is_ok_and(|done| done == json!(true))
    })?;
    assert_eq!(calls_to(&browser, "/api/send")?, Vec::<u64>::new());
    site::assert_no_problems(&browser)?;

    let expected = "plausible\t$pageview\t/features\t\t0\t\n\
                    plausible\t$pageview\t/features\t\t0\t\n\
                    plausible\t$pageview\t/plausible\t\t0\t\n\
                    plausible\t$pageview\t/user/_id_\tbasic\t0\t\n\
                    plausible\tBuy Now\t/features\tpro\t0\t\n\
                    plausible\tDocs\t/features\t\t1\t\n\
                    plausible\tFile Download\t/features\t\t0\t\n\
                    plausible\tJoin Us\t/features\t\t0\t\n\
                    plausible\tOutbound Link: Click\t/plausible\t\t1\t\n\
                    plausible\tOutbound Link: Click\t/plausible\t\t1\t\n\
                    plausible\tPurchase\t/excluded\t\t0\t\n\
                    plausible\tSignup\t/plausible\tpro\t0\t\n\
                    plausible\tUpgrade\t/manual\tpro\t0\t\n\
                    umami\t$pageview\t/checkout\t\t0\tspring\n\
                    umami\t$pageview\t/umami\t\t0\tspring\n\
                    umami\tBuy\t/umami\tpro\t0\tspring\n\
                    umami\tsigned up\t/umami\tpro\t0\tspring";
    let mut last = String::new();
    devstack::wait::until("the seventeen events in ClickHouse", WAIT, || {
        last = stored(&stack, &project_id).unwrap_or_default();
        last == expected
    })
    .map_err(|err| err.context(format!("ClickHouse holds:\n{last}")))?;
    // Each once: no copy was written, even before merging.
    assert_eq!(rows(&stack, &project_id)?, 17);
    // The goal's revenue and its being non-interactive are kept with it.
    let purchase = format!(
        "SELECT prop_values[indexOf(prop_keys, '$revenue')], \
         prop_values[indexOf(prop_keys, '$currency')], \
         prop_values[indexOf(prop_keys, '$non_interactive')] \
         FROM events WHERE project_id = '{project_id}' AND event = 'Purchase' FORMAT TSV"
    );
    assert_eq!(stack.clickhouse_sql(&purchase)?.trim(), "9.5\tEUR\ttrue");
    // Leaving a page told how long it was looked at: no event (none above), its engagement.
    let engaged = format!(
        "SELECT count() FROM engagement WHERE project_id = '{project_id}' \
         AND lib = 'plausible' AND path = '/plausible' FORMAT TSV"
    );
    devstack::wait::until("the engagement of /plausible", WAIT, || {
        stack
            .clickhouse_sql(&engaged)
            .is_ok_and(|count| count.trim() != "0")
    })?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scripts_are_javascript_any_site_may_load_revalidated_by_etag() -> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    for path in [
        "/js/script.js",
        "/js/script.outbound-links.file-downloads.js",
        "/js/script.tagged-events.hash.local.js",
        "/script.js",
    ] {
        let answer = http.get(edge.url(path)).send().await?;
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(
            header("content-type"),
            "application/javascript; charset=utf-8",
            "{path}"
        );
        assert_eq!(header("access-control-allow-origin"), "*", "{path}");
        assert!(header("cache-control").contains("max-age=3600"), "{path}");
        let etag = header("etag");
        assert!(etag.starts_with('"'), "{path}: {etag}");
        assert!(answer.text().await?.contains("'use strict'"), "{path}");
        let again = http
            .get(edge.url(path))
            .header("if-none-match", &etag)
            .send()
            .await?;
        assert_eq!(again.status(), 304, "{path}");
    }
    // Each variant is its own script.
    let etag = |path: &'static str| {
        let request = http.get(edge.url(path)).send();
        async move { anyhow::Ok(request.await?.headers().get("etag").cloned()) }
    };
    assert_ne!(
        etag("/js/script.js").await?,
        etag("/js/script.hash.js").await?
    );
    for path in [
        "/js/script.nope.js",
        "/js/script.hash.hash.js",
        "/js/other.js",
    ] {
        let answer = http.get(edge.url(path)).send().await?;
        assert_eq!(answer.status(), 404, "{path}");
        let body: serde_json::Value = answer.json().await?;
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
    Ok(())
}
