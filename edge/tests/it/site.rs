//! Another site for the tracker tests: a page served on 127.0.0.2 under the made-up host name
//! `shop.example` (the scripts ignore `localhost` and 127.x names), a browser that resolves that
//! name there, and what the page logged.

use std::process::Command;

use devstack::browser::Browser;
use devstack::install::Need;
use devstack::test::ServiceHandle;
use serde_json::json;

use crate::browser::WAIT;
use crate::helpers::call;

/// The made-up site the pages are on.
pub(crate) const SITE: &str = "shop.example";

/// Collects the page's errors and warnings (thrown, rejected, failed loads, or logged) into
/// `window.problems`: put it first in the page's head.
pub(crate) const PROBLEMS: &str = "<script>window.problems = [];
window.addEventListener('error', e => problems.push('error ' + (e.message || (e.target && e.target.src) || e.type)), true);
window.addEventListener('unhandledrejection', e => problems.push('rejected ' + String(e.reason)));
for (const level of ['error', 'warn']) {
  const original = console[level];
  console[level] = (...args) => { problems.push(level + ' ' + args.join(' ')); original(...args); };
}
</script>";

/// Serves `app` on 127.0.0.2 from `runtime`, and starts a browser (its profile in `dir`) that
/// finds [`SITE`] there: the site's address (`http://shop.example:<port>`) and the browser.
pub(crate) fn serve(
    runtime: &tokio::runtime::Runtime,
    app: axum::Router,
    dir: &std::path::Path,
) -> anyhow::Result<(String, Browser)> {
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.2:0"))?;
    let address = format!("http://{SITE}:{}", listener.local_addr()?.port());
    runtime.spawn(async move { axum::serve(listener, app).await });
    let browser = Browser::start_resolving(dir, &[(SITE, "127.0.0.2")])?;
    Ok((address, browser))
}

/// What the page collected with [`PROBLEMS`]: nothing, or the error naming it.
pub(crate) fn assert_no_problems(browser: &Browser) -> anyhow::Result<()> {
    let problems = browser.execute("return window.problems")?;
    anyhow::ensure!(problems == json!([]), "the page logged {problems}");
    Ok(())
}

/// `devstack/sdk-clients/<entry>` (a site's own script importing SDKs from npm) bundled by
/// esbuild into one script, as the site's build would.
pub(crate) fn bundle(dir: &std::path::Path, entry: &str) -> anyhow::Result<String> {
    devstack::install::ensure(&[Need::SdkClients])?;
    let sdks = devstack::install::sdk_clients_dir();
    let out = dir.join(entry.replace(".mjs", ".js"));
    let status = Command::new(sdks.join("node_modules/.bin/esbuild"))
        .current_dir(&sdks)
        .args([
            entry,
            "--bundle",
            "--format=iife",
            "--minify",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", out.display()))
        .status()?;
    anyhow::ensure!(status.success(), "esbuild failed: {status}");
    Ok(std::fs::read_to_string(out)?)
}

/// Lists [`SITE`] as the project's one domain (as its admin, with `token`), so that the
/// scripts' events from its pages are taken, and waits until ingest knows it: a page elsewhere
/// naming it is refused as from another host (403), not as naming no project (401).
pub(crate) fn list_site(
    runtime: &tokio::runtime::Runtime,
    edge: &ServiceHandle,
    token: &str,
    project_id: &str,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let (status, answer) = runtime.block_on(call(
        &http,
        reqwest::Method::PUT,
        edge.url(&format!("/api/admin/projects/{project_id}/domains")),
        Some(token),
        Some(&json!({ "domains": [SITE] })),
    ))?;
    anyhow::ensure!(status == 200, "domains: {status} {answer}");
    devstack::wait::until("ingest to know the shop's domain", WAIT, || {
        let probe = json!({ "n": "probe", "u": "https://elsewhere.example/", "d": SITE });
        runtime
            .block_on(
                http.post(edge.url("/api/event"))
                    .body(probe.to_string())
                    .send(),
            )
            .is_ok_and(|answer| answer.status() == 403)
    })
}

/// A site whose page sets `window.SHOP = settings` (JSON), loads its own script `bundle` (see
/// [`bundle`]) from `/site.js`, and then has `body` (HTML).
pub(crate) fn bundled_site(
    settings: &serde_json::Value,
    bundle: String,
    body: &str,
) -> axum::Router {
    let page = format!(
        "<!doctype html><html><head><title>Shop</title>{PROBLEMS}\
         <script>window.SHOP = {settings}</script><script src=\"/site.js\"></script>\
         </head><body>{body}</body></html>"
    );
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async move { axum::response::Html(page) }),
        )
        .route(
            "/site.js",
            axum::routing::get(|| async move {
                (
                    [("content-type", "application/javascript; charset=utf-8")],
                    bundle,
                )
            }),
        )
}
