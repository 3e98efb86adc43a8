//! Another site for the tracker tests: a page served on 127.0.0.2 under the made-up host name
//! `shop.example` (the scripts ignore `localhost` and 127.x names), a browser that resolves that
//! name there, and what the page logged.

use devstack::browser::Browser;
use serde_json::json;

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
