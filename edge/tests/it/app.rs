//! The web app edge serves: the app shell with its security headers and SPA fallback, and the
//! app loaded in headless Chromium.

use std::time::Duration;

use devstack::browser::Browser;
use devstack::stack::TestStack;
use devstack::test::{TempDir, artifacts_dir, get_json};

#[test]
fn edge_serves_the_app_shell_with_security_headers_and_spa_fallback() -> anyhow::Result<()> {
    // Every service is unreachable: edge alone serves the app.
    let stack = TestStack::builder().start()?;
    let edge = stack.edge(|_| {})?;
    let port = edge.addr.port();
    let timeout = Duration::from_secs(10);

    let index = devstack::http::get(port, "/", timeout)?;
    assert_eq!(index.status, 200);
    let script = index
        .body
        .split("src=\"/assets/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("index.html loads a script from /assets/");
    assert!(
        script.starts_with("boot-") && script.ends_with(".js"),
        "{script}"
    );
    let csp = index.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert!(
        index
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );

    let route = devstack::http::get(port, "/analytics/trends?x=1", timeout)?;
    assert_eq!(
        route.status, 200,
        "client-side routes fall back to index.html"
    );
    assert_eq!(route.body, index.body);

    let boot = devstack::http::get(port, &format!("/assets/{script}"), timeout)?;
    assert_eq!(boot.status, 200);
    assert_eq!(
        boot.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let module = boot
        .body
        .split("from './")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("boot script imports the app module");
    let wasm = module.replace(".js", "_bg.wasm");
    let wasm_answer = devstack::http::get(port, &format!("/assets/{wasm}"), timeout)?;
    assert_eq!(wasm_answer.status, 200, "the .wasm is served");
    assert_eq!(wasm_answer.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm_answer.header("content-encoding"), None);
    // Browsers get it compressed: a quarter of the size, the same bytes once inflated.
    let compressed = devstack::http::request_with_headers(
        port,
        "GET",
        &format!("/assets/{wasm}"),
        &[("accept-encoding", "gzip, deflate, br")],
        b"",
        timeout,
    )?;
    assert_eq!(compressed.status, 200);
    assert_eq!(compressed.header("content-encoding"), Some("gzip"));
    assert_eq!(compressed.header("vary"), Some("accept-encoding"));
    assert_eq!(wasm_answer.header("vary"), Some("accept-encoding"));
    assert_eq!(compressed.header("content-type"), Some("application/wasm"));
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(compressed.raw_body.as_slice()),
        &mut inflated,
    )?;
    assert_eq!(inflated, wasm_answer.raw_body, "the same module");
    assert!(
        compressed.raw_body.len() * 2 < wasm_answer.raw_body.len(),
        "{} bytes compressed of {}",
        compressed.raw_body.len(),
        wasm_answer.raw_body.len()
    );

    let missing = devstack::http::get(port, "/assets/nope-0000.js", timeout)?;
    assert_eq!(missing.status, 404);

    let (status, _) = get_json(&edge, "/healthz")?;
    assert_eq!(status, 200);
    Ok(())
}

#[test]
fn the_web_app_loads_in_chromium_and_shows_the_product_name() -> anyhow::Result<()> {
    // Every service is unreachable: edge alone serves the app.
    let stack = TestStack::builder().start()?;
    let edge = stack.edge(|_| {})?;
    let dir = TempDir::new("chromium")?;
    let browser = Browser::start(dir.path())?;

    browser.goto(&edge.url("/"))?;
    let heading =
        browser.wait_for_text("#product-name", "Event Analytics", Duration::from_secs(30))?;
    assert_eq!(heading, "Event Analytics");
    let title = browser.execute("return document.title")?;
    assert_eq!(title, "Event Analytics");
    // The heading is rendered by the WebAssembly app, not present in index.html.
    let wasm_loaded = browser.execute(
        "return performance.getEntriesByType('resource').some(r => r.name.endsWith('.wasm'))",
    )?;
    assert_eq!(wasm_loaded, true, "the page fetched the .wasm module");

    let shot = browser.screenshot(&artifacts_dir().join("ui-home.png"))?;
    assert!(
        std::fs::metadata(&shot)?.len() > 1_000,
        "screenshot written to {}",
        shot.display()
    );
    Ok(())
}
