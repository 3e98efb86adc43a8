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

#[tokio::test(flavor = "multi_thread")]
async fn every_call_goes_through_edge_to_its_service_and_an_upstream_down_is_a_503()
-> anyhow::Result<()> {
    const PASSWORD: &str = "correct horse battery staple";
    let nats = TestNats::start()?;
    let pg = PostgresDb::create()?;
    let ch = ClickHouseDb::unique();
    let auth = spawn_service("auth", {
        let mut config = auth::Config::with_defaults(
            http(),
            NatsConfig { url: nats.url() },
            PostgresConfig::local(pg.server().port(), &pg.name, pg.server().password()),
        )?;
        config.first_admin = Some((
            "admin@example.com".to_owned(),
            plumbing::config::Secret::new(PASSWORD),
        ));
        move |listener, shutdown| auth::run(config, listener, shutdown)
    })?;
    let ingest = spawn_service("ingest", {
        let config = ingest::Config {
            http: http(),
            nats: NatsConfig { url: nats.url() },
            auth: ingest::AuthConfig::at(auth.url("")),
        };
        move |listener, shutdown| ingest::run(config, listener, shutdown)
    })?;
    let _sink = spawn_service("sink", {
        let config = sink::Config {
            http: http(),
            nats: NatsConfig { url: nats.url() },
            clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
            batch: sink::consumer::BatchSettings {
                max_wait_ms: 50,
                ..Default::default()
            },
        };
        move |listener, shutdown| sink::run(config, listener, shutdown)
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
    wait_for_readiness(&edge, 200)?;
    let http = reqwest::Client::new();

    // Auth through edge: the first admin logs in; the refresh cookie comes back too.
    let token = devstack::test::access_token(
        edge.addr.port(),
        "admin@example.com",
        PASSWORD,
        Duration::from_secs(30),
    )?;
    let login = http
        .post(edge.url("/api/auth/login"))
        .json(&serde_json::json!({ "email": "admin@example.com", "password": PASSWORD }))
        .send()
        .await?;
    assert!(
        login.headers().get("set-cookie").is_some(),
        "the refresh cookie passes through edge"
    );
    let project: serde_json::Value = http
        .post(edge.url("/api/admin/projects"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "Through edge" }))
        .send()
        .await?
        .json()
        .await?;
    let project_id = project["id"].as_str().expect("project id").to_owned();
    let key = project["write_key"].as_str().expect("write key").to_owned();

    // The live feed through edge streams: its first message arrives while the stream is open.
    let overview = format!("/api/query/overview?project_id={project_id}");
    devstack::wait::until_async(
        "query knows the project",
        Duration::from_secs(10),
        || async {
            http.get(edge.url(&overview))
                .bearer_auth(&token)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await?;
    let mut live = http
        .get(edge.url(&format!("/api/query/live?project_id={project_id}")))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(live.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(10), live.chunk()).await??;
    assert!(
        first.is_some_and(|chunk| String::from_utf8_lossy(&chunk).contains("active_users")),
        "server-sent events pass through unbuffered"
    );

    // An SDK batch through edge, then counted by query through edge.
    let batch: Vec<_> = (0..25)
        .map(|i| serde_json::json!({ "event": "edge-test", "distinct_id": format!("u{i}") }))
        .collect();
    let response = http
        .post(edge.url("/batch/"))
        .header("content-type", "text/plain")
        .body(serde_json::json!({ "api_key": key, "batch": batch }).to_string())
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>().await?["status"], 1);
    devstack::wait::until_async("the batch counted", Duration::from_secs(30), || async {
        let body: serde_json::Value = match http
            .get(edge.url(&overview))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        body["figures"]["events"]["value"].as_f64() == Some(25.0)
    })
    .await?;
    // Without a token, query refuses through edge as it does directly.
    let refused = http.get(edge.url(&overview)).send().await?;
    assert_eq!(refused.status(), 401);

    // Query stopped: edge answers 503 in JSON, and keeps serving the rest.
    query.stop()?;
    let down = http
        .get(edge.url(&overview))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(down.status(), 503);
    let body: serde_json::Value = down.json().await?;
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let jwks = http.get(edge.url("/.well-known/jwks.json")).send().await?;
    assert_eq!(jwks.status(), 200);
    Ok(())
}
