//! Edge in front of the real services, and the web app it serves, in headless Chromium.

use std::path::PathBuf;
use std::time::Duration;

use devstack::browser::Browser;
use devstack::test::{
    ClickHouseDb, PostgresDb, ServiceHandle, TempDir, TestNats, artifacts_dir,
    assert_liveness_and_metrics, get_json, spawn_service, wait_for_readiness,
};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig, PostgresConfig};

fn http() -> HttpConfig {
    HttpConfig::ephemeral()
}

fn ui_dir() -> PathBuf {
    let dir = devstack::workspace_root().join("ui/dist");
    assert!(
        dir.join("index.html").exists(),
        "the web app is not built: run `cargo xtask test` (or `cargo xtask ui`) first"
    );
    dir
}

fn edge(ingest: String, auth: String, query: String) -> anyhow::Result<ServiceHandle> {
    let config = edge::Config {
        http: http(),
        ingest_url: ingest,
        auth_url: auth,
        query_url: query,
        ui_dir: ui_dir(),
        upstream_timeout_ms: 5_000,
    };
    spawn_service("edge", move |listener, shutdown| {
        edge::run(config, listener, shutdown)
    })
}

#[test]
fn edge_is_ready_with_its_upstreams_and_unavailable_when_one_stops() -> anyhow::Result<()> {
    let nats = TestNats::start()?;
    let pg = PostgresDb::create()?;
    let ch = ClickHouseDb::unique();
    ch.server().create_database(&ch.name)?;
    let ingest = spawn_service("ingest", {
        let config = ingest::Config {
            http: http(),
            nats: NatsConfig { url: nats.url() },
            auth: ingest::AuthConfig::at("http://127.0.0.1:9".to_owned()),
        };
        move |listener, shutdown| ingest::run(config, listener, shutdown)
    })?;
    let auth = spawn_service("auth", {
        let config = auth::Config::with_defaults(
            http(),
            NatsConfig { url: nats.url() },
            PostgresConfig::local(pg.server().port(), &pg.name, pg.server().password()),
        )?;
        move |listener, shutdown| auth::run(config, listener, shutdown)
    })?;
    let mut query = spawn_service("query", {
        let config = query::Config {
            http: http(),
            nats: NatsConfig { url: nats.url() },
            clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
            auth: plumbing::jwt::AuthConfig::at(auth.url("")),
            limits: query::Limits::default(),
            sql_log: None,
        };
        move |listener, shutdown| query::run(config, listener, shutdown)
    })?;
    let edge = edge(ingest.url(""), auth.url(""), query.url(""))?;

    let ready = wait_for_readiness(&edge, 200)?;
    for upstream in ["ingest", "auth", "query"] {
        assert_eq!(ready["checks"][upstream], "up", "{ready}");
    }
    assert_liveness_and_metrics(&edge, "edge", "edge_ui_responses")?;

    query.stop()?;
    let unready = wait_for_readiness(&edge, 503)?;
    assert_eq!(unready["checks"]["query"], "down", "{unready}");
    assert_eq!(unready["checks"]["ingest"], "up", "{unready}");
    Ok(())
}

#[test]
fn edge_serves_the_app_shell_with_security_headers_and_spa_fallback() -> anyhow::Result<()> {
    let edge = edge(
        "http://127.0.0.1:9".into(),
        "http://127.0.0.1:9".into(),
        "http://127.0.0.1:9".into(),
    )?;
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

    let missing = devstack::http::get(port, "/assets/nope-0000.js", timeout)?;
    assert_eq!(missing.status, 404);

    let (status, _) = get_json(&edge, "/healthz")?;
    assert_eq!(status, 200);
    Ok(())
}

#[test]
fn the_web_app_loads_in_chromium_and_shows_the_product_name() -> anyhow::Result<()> {
    let edge = edge(
        "http://127.0.0.1:9".into(),
        "http://127.0.0.1:9".into(),
        "http://127.0.0.1:9".into(),
    )?;
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
