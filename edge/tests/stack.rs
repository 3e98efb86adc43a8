//! Edge in front of the real services, and the web app it serves, in headless Chromium.

mod common;

use std::time::Duration;

use common::{
    ADMIN, PASSWORD, Stack, edge, edge_with, edge_with_internal, http, signing_keys, spawn_auth,
};

use devstack::browser::Browser;
use devstack::test::{
    ClickHouseDb, PostgresDb, TempDir, TestNats, artifacts_dir, get_json, spawn_service,
    wait_for_readiness,
};
use plumbing::config::{ClickHouseConfig, NatsConfig, PostgresConfig};

#[test]
fn edge_is_ready_with_its_upstreams_and_unavailable_when_one_stops_saying_which_only_inside()
-> anyhow::Result<()> {
    let nats = TestNats::start()?;
    let pg = PostgresDb::create()?;
    let ch = ClickHouseDb::unique();
    ch.server().create_database(&ch.name)?;
    let ingest = spawn_service("ingest", {
        let config = ingest::Config::new(
            http(),
            NatsConfig { url: nats.url() },
            ingest::AuthConfig::at("http://127.0.0.1:9".to_owned()),
        );
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
    let (edge, internal) = edge_with_internal(ingest.url(""), auth.url(""), query.url(""), |_| {})?;
    let timeout = Duration::from_secs(10);
    let internal_json = |path: &str| -> anyhow::Result<(u16, serde_json::Value)> {
        let answer = devstack::http::get(internal.port(), path, timeout)?;
        Ok((answer.status, serde_json::from_str(&answer.body)?))
    };

    // The public door says ready and nothing more; the internal listener says what is up.
    let ready = wait_for_readiness(&edge, 200)?;
    assert_eq!(
        ready,
        serde_json::json!({ "service": "edge", "status": "ok" })
    );
    let (status, detailed) = internal_json("/readyz")?;
    assert_eq!(status, 200, "{detailed}");
    for upstream in ["ingest", "auth", "query"] {
        assert_eq!(detailed["checks"][upstream], "up", "{detailed}");
    }
    let (status, alive) = get_json(&edge, "/healthz")?;
    assert_eq!((status, &alive["status"]), (200, &serde_json::json!("ok")));

    // Metrics only inside: the public door answers 404 JSON, not the web app.
    let public_metrics = devstack::http::get(edge.addr.port(), "/metrics", timeout)?;
    assert_eq!(public_metrics.status, 404, "{}", public_metrics.body);
    let refused: serde_json::Value = serde_json::from_str(&public_metrics.body)?;
    assert_eq!(refused["error"]["code"], "not_found", "{refused}");
    let metrics = devstack::http::get(internal.port(), "/metrics", timeout)?;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("# TYPE edge_ui_responses ")
            && metrics
                .body
                .contains("edge_dependency_up{dependency=\"query\"} 1")
            && metrics.body.trim_end().ends_with("# EOF"),
        "{}",
        metrics.body
    );

    // The public may ask as often as it likes: the services behind edge are asked about once a
    // second on its behalf (ingest counts the /healthz calls edge's checks make).
    let healthz_calls = || -> anyhow::Result<f64> {
        let metrics = devstack::http::get(ingest.addr.port(), "/metrics", timeout)?;
        Ok(metrics
            .body
            .lines()
            .filter(|line| {
                line.starts_with("ingest_http_requests_total{")
                    && line.contains("route=\"/healthz\"")
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    };
    let before = healthz_calls()?;
    let started = std::time::Instant::now();
    let mut asked = 0;
    while asked < 50 || started.elapsed() < Duration::from_millis(2_500) {
        assert_eq!(get_json(&edge, "/readyz")?.0, 200);
        asked += 1;
    }
    let calls = healthz_calls()? - before;
    let bound = started.elapsed().as_secs_f64().ceil() + 1.0;
    assert!(
        calls >= 1.0 && calls <= bound,
        "{calls} checks for {asked} public /readyz in {:?}",
        started.elapsed()
    );

    query.stop()?;
    let unready = wait_for_readiness(&edge, 503)?;
    assert_eq!(
        unready,
        serde_json::json!({ "service": "edge", "status": "unavailable" })
    );
    let (status, detailed) = internal_json("/readyz")?;
    assert_eq!(status, 503, "{detailed}");
    assert_eq!(detailed["checks"]["query"], "down", "{detailed}");
    assert_eq!(detailed["checks"]["ingest"], "up", "{detailed}");
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
    let mut stack = Stack::start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();

    // Auth through edge: the first admin logs in; the refresh cookie comes back too.
    let token =
        devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    let login = http
        .post(edge.url("/api/auth/login"))
        .json(&serde_json::json!({ "email": ADMIN, "password": PASSWORD }))
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
    stack.query.stop()?;
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

/// A user and an analyst, registered through edge (the admin promotes the analyst), with their
/// access tokens.
async fn user_and_analyst(
    http: &reqwest::Client,
    edge: &devstack::test::ServiceHandle,
    admin: &str,
) -> anyhow::Result<(String, String)> {
    for email in ["user@example.com", "analyst@example.com"] {
        let user = common::register(http, edge, email, PASSWORD, "").await?;
        if email.starts_with("analyst") {
            let id = user["id"].as_str().expect("user id");
            let promoted = http
                .patch(edge.url(&format!("/api/admin/users/{id}")))
                .bearer_auth(admin)
                .json(&serde_json::json!({ "role": "analyst" }))
                .send()
                .await?;
            assert_eq!(promoted.status(), 200);
        }
    }
    let port = edge.addr.port();
    let timeout = Duration::from_secs(30);
    Ok((
        devstack::test::access_token(port, "user@example.com", PASSWORD, timeout)?,
        devstack::test::access_token(port, "analyst@example.com", PASSWORD, timeout)?,
    ))
}

/// `method path` with `token`, and the status edge answered.
async fn status(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
) -> anyhow::Result<u16> {
    let body = serde_json::json!({ "event": "role-matrix" });
    let body = (method == reqwest::Method::POST).then_some(&body);
    Ok(common::call(http, method, url, token, body).await?.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_enforces_each_role_and_a_service_bypassing_it_still_refuses() -> anyhow::Result<()> {
    let stack = Stack::start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let timeout = Duration::from_secs(30);
    let admin = devstack::test::access_token(port, ADMIN, PASSWORD, timeout)?;

    let (user, analyst) = user_and_analyst(&http, &edge, &admin).await?;
    let project = contract::BUILTIN_PROJECT_ID;
    let catalog = format!("/api/query/catalog?project_id={project}");
    devstack::wait::until_async("query is up", timeout, || async {
        status(
            &http,
            reqwest::Method::GET,
            edge.url(&catalog),
            Some(&admin),
        )
        .await
        .is_ok_and(|code| code == 200)
    })
    .await?;

    // Expected status with no token, a user's, an analyst's, an admin's.
    use reqwest::Method;
    let matrix: [(Method, &str, [u16; 4]); 8] = [
        (Method::GET, "/api/auth/me", [401, 200, 200, 200]),
        (Method::GET, "/api/auth/projects", [401, 403, 200, 200]),
        (Method::GET, "/api/query/system", [401, 403, 403, 200]),
        (Method::GET, "/api/admin/status", [401, 403, 403, 200]),
        (Method::POST, "/api/events", [401, 200, 200, 200]),
        (Method::GET, &catalog, [401, 403, 200, 200]),
        (Method::GET, "/api/admin/users", [401, 403, 403, 200]),
        (Method::GET, "/api/admin/projects", [401, 403, 403, 200]),
    ];
    for (method, path, expected) in &matrix {
        let mut seen = [0_u16; 4];
        for (slot, token) in [None, Some(&user), Some(&analyst), Some(&admin)]
            .into_iter()
            .enumerate()
        {
            seen[slot] = status(
                &http,
                method.clone(),
                edge.url(path),
                token.map(String::as_str),
            )
            .await?;
        }
        assert_eq!(
            &seen, expected,
            "{method} {path}: none, user, analyst, admin"
        );
    }
    let forged = status(
        &http,
        Method::GET,
        edge.url("/api/auth/me"),
        Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
    )
    .await?;
    assert_eq!(forged, 401, "an unsigned token");

    // The projects analysts pick from: the built-in one first.
    let projects: serde_json::Value = http
        .get(edge.url("/api/auth/projects"))
        .bearer_auth(&analyst)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        projects["projects"][0]["id"],
        project.to_string(),
        "{projects}"
    );
    assert_eq!(projects["projects"][0]["timezone"], "UTC", "{projects}");

    // Bypassing edge gets nothing either: each service checks the token itself.
    for (service, method, path) in [
        (&stack.query, Method::GET, catalog.as_str()),
        (&stack.ingest, Method::POST, "/api/events"),
        (&stack.auth, Method::GET, "/api/admin/users"),
        (&stack.auth, Method::GET, "/api/auth/projects"),
        (&stack.query, Method::GET, "/api/query/system"),
    ] {
        assert_eq!(
            status(&http, method.clone(), service.url(path), None).await?,
            401,
            "{method} {path} directly"
        );
        assert_eq!(
            status(&http, method.clone(), service.url(path), Some(&user)).await?,
            if path == "/api/events" { 200 } else { 403 },
            "{method} {path} directly with a user's token"
        );
    }

    // An unknown API path is a JSON 404, not the web app.
    let unknown = http.get(edge.url("/api/nope")).send().await?;
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await?;
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    Ok(())
}

/// `GET /api/admin/status` through `edge` with `token`: the status code and the body.
async fn system_status(
    http: &reqwest::Client,
    edge: &devstack::test::ServiceHandle,
    token: Option<&str>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let url = edge.url("/api/admin/status");
    common::call(http, reqwest::Method::GET, url, token, None).await
}

/// The entry of `list` (`services`, `streams`, `consumers`) whose `name` is `name`.
fn named<'a>(status: &'a serde_json::Value, list: &str, name: &str) -> &'a serde_json::Value {
    status[list]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["name"] == name))
        .unwrap_or(&serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_status_counts_the_events_sent_and_shows_a_stopped_service_not_ready()
-> anyhow::Result<()> {
    let mut stack = Stack::start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let timeout = Duration::from_secs(30);
    let admin = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, timeout)?;
    let (user, analyst) = user_and_analyst(&http, &edge, &admin).await?;

    // Only admins see it.
    for (token, expected) in [(None, 401), (Some(&user), 403), (Some(&analyst), 403)] {
        let (code, body) = system_status(&http, &edge, token.map(String::as_str)).await?;
        assert_eq!(code, expected, "{body}");
    }

    // A known number of events, stored in ClickHouse.
    const SENT: u64 = 25;
    let project: serde_json::Value = http
        .post(edge.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Status" }))
        .send()
        .await?
        .json()
        .await?;
    let key = project["write_key"].as_str().expect("write key");
    let batch: Vec<_> = (0..SENT)
        .map(|i| serde_json::json!({ "event": "status-test", "distinct_id": format!("u{i}") }))
        .collect();
    let sent = http
        .post(edge.url("/batch/"))
        .body(serde_json::json!({ "api_key": key, "batch": batch }).to_string())
        .send()
        .await?;
    assert_eq!(sent.status(), 200);
    devstack::wait::until("the events stored", timeout, || {
        stack
            .ch
            .server()
            .query_in(&stack.ch.name, "SELECT count() FROM events FORMAT TSV")
            .is_ok_and(|rows| rows.trim() == SENT.to_string())
    })?;
    // The sink acks right after its insert: the status shows nothing pending once it has.
    devstack::wait::until_async("the sink's acks", timeout, || async {
        system_status(&http, &edge, Some(&admin))
            .await
            .is_ok_and(|(_, status)| {
                let sink = named(&status, "consumers", contract::streams::SINK_CONSUMER);
                // The history copies from the backlog on its own, a moment later.
                let history = named(&status, "streams", contract::streams::EVENTS_HISTORY_STREAM);
                sink["pending"] == 0 && sink["ack_pending"] == 0 && history["messages"] == SENT
            })
    })
    .await?;

    let (code, status) = system_status(&http, &edge, Some(&admin)).await?;
    assert_eq!(code, 200, "{status}");
    for service in ["edge", "ingest", "auth", "query", "sink"] {
        let found = named(&status, "services", service);
        assert_eq!(found["ready"], true, "{service}: {status}");
        assert!(found["detail"].is_null(), "{service}: {status}");
    }
    assert_eq!(
        status["services"].as_array().map(Vec::len),
        Some(5),
        "{status}"
    );
    // Stored and acked: the backlog let go of them, the history keeps them.
    let events = named(&status, "streams", contract::streams::EVENTS_STREAM);
    assert_eq!(events["last_sequence"], SENT, "{status}");
    let history = named(&status, "streams", contract::streams::EVENTS_HISTORY_STREAM);
    assert_eq!(history["messages"], SENT, "{status}");
    let auth_stream = named(&status, "streams", contract::streams::AUTH_STREAM);
    assert!(auth_stream["messages"].as_u64() > Some(0), "{status}");
    let projector = named(
        &status,
        "consumers",
        contract::streams::AUTH_PROJECTOR_CONSUMER,
    );
    assert_eq!(
        projector["stream"],
        contract::streams::AUTH_STREAM,
        "{status}"
    );
    assert_eq!(status["dlq_messages"], 0, "{status}");
    assert_eq!(status["clickhouse"]["rows"], SENT, "{status}");
    assert!(status["clickhouse"]["parts"].as_u64() > Some(0), "{status}");
    assert!(
        status["clickhouse"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{status}"
    );
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
    assert!(
        status["checked_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{status}"
    );

    // The operator's counters agree with the known load: every event accepted once by ingest,
    // every row inserted once by the sink, one batch request through PostHog's route.
    let metrics = |service: &devstack::test::ServiceHandle| {
        let url = service.url("/metrics");
        let http = http.clone();
        async move { anyhow::Ok(http.get(url).send().await?.text().await?) }
    };
    let ingest_metrics = metrics(&stack.ingest).await?;
    assert!(
        ingest_metrics.contains(&format!(
            "ingest_events_total{{route=\"posthog\",result=\"accepted\"}} {SENT}\n"
        )),
        "{ingest_metrics}"
    );
    let sink_metrics = metrics(&stack.sink).await?;
    assert!(
        sink_metrics.contains(&format!("sink_rows_inserted_total {SENT}\n")),
        "{sink_metrics}"
    );

    // The sink stopped: shown not ready, and the rest still answered.
    stack.sink.stop()?;
    let (code, status) = system_status(&http, &edge, Some(&admin)).await?;
    assert_eq!(code, 200, "{status}");
    let sink = named(&status, "services", "sink");
    assert_eq!(sink["ready"], false, "{status}");
    assert!(sink["detail"].is_string(), "{status}");
    assert_eq!(
        named(&status, "services", "query")["ready"],
        true,
        "{status}"
    );
    assert_eq!(status["clickhouse"]["rows"], SENT, "{status}");

    // Query stopped too: its figures are missing, with a sentence saying so.
    stack.query.stop()?;
    let (code, status) = system_status(&http, &edge, Some(&admin)).await?;
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        named(&status, "services", "query")["ready"],
        false,
        "{status}"
    );
    assert_eq!(
        named(&status, "services", "ingest")["ready"],
        true,
        "{status}"
    );
    assert!(status["clickhouse"].is_null(), "{status}");
    assert!(status["dlq_messages"].is_null(), "{status}");
    assert_eq!(status["streams"], serde_json::json!([]), "{status}");
    assert!(
        status["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("query")),
        "{status}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_address_request_id_and_trace_follow_an_event_to_clickhouse()
-> anyhow::Result<()> {
    let stack = Stack::start()?;
    // The public door believes nobody's X-Forwarded-For; one behind a trusted load balancer does.
    let public = stack.edge(|_| {})?;
    let behind_proxy = stack.edge(|config| {
        config.trusted_proxies = plumbing::forwarded::TrustedProxies::local();
    })?;
    let http = reqwest::Client::new();
    let admin =
        devstack::test::access_token(public.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    let project: serde_json::Value = http
        .post(public.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Traced" }))
        .send()
        .await?
        .json()
        .await?;
    let key = project["write_key"].as_str().expect("write key").to_owned();
    let project_id = project["id"].as_str().expect("project id").to_owned();
    let js = async_nats::jetstream::new(plumbing::streams::connect(stack.nats.url()).await?);
    let mut events = js.get_stream(contract::streams::EVENTS_STREAM).await?;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (edge, event, request_id) in [
        (&public, "via-public", "req-public-1"),
        (&behind_proxy, "via-proxy", "req-proxy-1"),
    ] {
        let sent = http
            .post(edge.url("/batch/"))
            .header("x-request-id", request_id)
            .header("traceparent", TRACEPARENT)
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
            .body(
                serde_json::json!({ "api_key": key, "event": event, "distinct_id": "d1" })
                    .to_string(),
            )
            .send()
            .await?;
        assert_eq!(sent.status(), 200, "{event}");
        assert_eq!(
            sent.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(request_id)
        );
        // The message on the stream carries the request's id and trace context.
        let last = events.info().await?.state.last_sequence;
        let message = events.get_raw_message(last).await?;
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|value| value.as_str().to_owned())
        };
        assert_eq!(
            header(contract::streams::REQUEST_ID_HEADER).as_deref(),
            Some(request_id)
        );
        assert_eq!(
            header(contract::streams::TRACEPARENT_HEADER).as_deref(),
            Some(TRACEPARENT)
        );
    }

    // In ClickHouse: the public edge recorded its peer, the proxied one the client the trusted
    // proxy named (the nearest untrusted hop), both anonymised.
    let sql = format!(
        "SELECT event, ip FROM events WHERE project_id = '{project_id}' ORDER BY event FORMAT TSV"
    );
    let expected = "via-proxy\t203.0.113.0\nvia-public\t127.0.0.0\n";
    devstack::wait::until("both events stored", Duration::from_secs(30), || {
        stack
            .ch
            .server()
            .query_in(&stack.ch.name, &sql)
            .is_ok_and(|rows| rows == expected)
    })?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_beyond_the_limit_get_429_and_a_key_added_to_auth_is_accepted_without_restarting_edge()
-> anyhow::Result<()> {
    let nats = TestNats::start()?;
    let pg = PostgresDb::create()?;
    let first_key = auth::signing::generate_line()?;
    let mut auth = spawn_auth(&nats, &pg, None, signing_keys(first_key.clone()))?;
    wait_for_readiness(&auth, 200)?;
    let nowhere = || "http://127.0.0.1:9".to_owned();
    let edge = edge(nowhere(), auth.url(""), nowhere())?;
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let old_token = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))?;
    let me = |token: String| {
        let http = http.clone();
        let url = edge.url("/api/auth/me");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|response| response.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(me(old_token.clone()).await, 200);

    // Rotation: auth restarts where it was with a second key, which now signs; edge, still
    // running, fetches the JWKS again for the unknown key id, and the token's first call waits
    // for that fetch instead of being refused.
    let addr = auth.addr;
    auth.stop()?;
    let second_key = auth::signing::generate_line()?;
    let restarted = spawn_auth(
        &nats,
        &pg,
        Some(addr),
        signing_keys(format!("{first_key},{second_key}")),
    )?;
    wait_for_readiness(&restarted, 200)?;
    let new_token = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))?;
    assert_ne!(
        new_token.split('.').next(),
        old_token.split('.').next(),
        "the new token names another key"
    );
    assert_eq!(
        me(new_token.clone()).await,
        200,
        "the new key is accepted on its first use"
    );
    assert_eq!(me(old_token).await, 200, "the old key still verifies");

    // Logins: edge's own limiters, 3 per account and 5 per address (auth's failure lock is at
    // 10 per account, never reached).
    let limited = edge_with(nowhere(), format!("http://{addr}"), nowhere(), |config| {
        config.limits.auth_per_client = plumbing::ratelimit::Rate::per_minute(5);
        config.limits.auth_per_account = plumbing::ratelimit::Rate::per_minute(3);
    })?;
    let login = |email: &'static str| {
        let http = http.clone();
        let url = limited.url("/api/auth/login");
        async move {
            http.post(url)
                .json(&serde_json::json!({ "email": email, "password": "wrong password" }))
                .send()
                .await
        }
    };
    let mut codes = Vec::new();
    for email in [
        "victim@example.com",
        "victim@example.com",
        "Victim@Example.com",
        "victim@example.com",
        "other@example.com",
        "other@example.com",
    ] {
        let answer = login(email).await?;
        codes.push(answer.status().as_u16());
        if answer.status() == 429 {
            let retry: u64 = answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in seconds");
            assert!((1..=60).contains(&retry), "{retry}");
            let body: serde_json::Value = answer.json().await?;
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        }
    }
    assert_eq!(
        codes[..],
        [401, 401, 401, 429, 401, 429],
        "the 4th for one account, then the 6th from one address"
    );
    Ok(())
}

/// Every path of the public interface (DESIGN.md) the document must describe, with its method.
const DOCUMENTED: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/admin/status"),
    ("get", "/api/auth/projects"),
    ("get", "/api/admin/users"),
    ("patch", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}"),
    ("post", "/api/admin/projects"),
    ("get", "/api/admin/projects"),
    ("post", "/api/admin/projects/{id}/keys"),
    ("delete", "/api/admin/projects/{id}/keys/{key_id}"),
    ("post", "/api/events"),
    ("post", "/e/"),
    ("post", "/i/v0/e/"),
    ("post", "/capture/"),
    ("post", "/batch/"),
    ("post", "/v1/track"),
    ("post", "/v1/batch"),
    ("post", "/v1/b"),
    ("post", "/api/event"),
    ("post", "/api/send"),
    ("get", "/api/query/overview"),
    ("get", "/api/query/trends"),
    ("get", "/api/query/top"),
    ("post", "/api/query/funnel"),
    ("post", "/api/query/retention"),
    ("get", "/api/query/events"),
    ("get", "/api/query/events/{id}"),
    ("get", "/api/query/live"),
    ("get", "/api/query/catalog"),
    ("get", "/api/query/system"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_the_whole_api_and_schemathesis_finds_no_violation()
-> anyhow::Result<()> {
    let schemathesis = devstack::install::ensure(&[devstack::install::Need::Schemathesis])?
        .schemathesis
        .expect("schemathesis installed");
    let stack = Stack::start()?;
    // Limits high enough that the fuzzer reaches the logic behind the account routes.
    let edge = stack.edge(|config| {
        config.limits.auth_per_client = plumbing::ratelimit::Rate::per_minute(100_000);
        config.limits.auth_per_account = plumbing::ratelimit::Rate::per_minute(100_000);
    })?;
    let http = reqwest::Client::new();
    let admin =
        devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    // Some data, so the query routes have something to answer with.
    let project: serde_json::Value = http
        .post(edge.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Fuzzed" }))
        .send()
        .await?
        .json()
        .await?;
    let key = project["write_key"].as_str().expect("write key");
    let batch: Vec<_> = (0..20)
        .map(|i| serde_json::json!({ "event": format!("e{}", i % 3), "distinct_id": format!("u{i}") }))
        .collect();
    let sent = http
        .post(edge.url("/batch/"))
        .body(serde_json::json!({ "api_key": key, "batch": batch }).to_string())
        .send()
        .await?;
    assert_eq!(sent.status(), 200);

    let document: serde_json::Value = http
        .get(edge.url("/api/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(document["openapi"], "3.1.0");
    for (method, path) in DOCUMENTED {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not described");
        assert!(
            operation["responses"]["503"].is_object(),
            "{method} {path}: edge's own 503"
        );
    }
    let login = &document["paths"]["/api/auth/login"]["post"];
    assert_eq!(
        login["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LoginRequest",
        "bodies come from the handlers' types"
    );
    assert!(login["responses"]["429"].is_object(), "edge limits logins");
    assert!(
        document["components"]["schemas"]["TokenResponse"]["properties"]["access_token"]
            .is_object()
    );
    let page = devstack::http::get(edge.addr.port(), "/api/docs", Duration::from_secs(10))?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<code>POST /api/auth/login</code>"));
    assert!(page.body.contains("id=\"schema-TokenResponse\""));

    // Schemathesis against the running stack, as the admin: no 5xx, and every status, content
    // type and body as the document says. The live feed never ends, so it is left out.
    let dir = TempDir::new("schemathesis")?;
    let output = tokio::process::Command::new(&schemathesis)
        .current_dir(dir.path())
        .arg("run")
        .arg(edge.url("/api/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--exclude-path",
            "/api/query/live",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "30",
            "--seed",
            "20261130",
            // One worker: schemathesis on CPython 3.11 trips over its own threads parsing
            // code at once (cpython gh-106905).
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), output).await??;
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}"
    );
    eprintln!(
        "{}",
        report
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_stays_silent_gets_a_504_after_the_configured_timeout()
-> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // Accepts connections and reads each request's head; never answers, except `POST /e/`,
    // which gets its status line and the start of its body, then nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let silent_url = format!("http://{}", silent.local_addr()?);
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((mut socket, _)) = silent.accept().await {
            let mut head = Vec::new();
            let mut buffer = [0_u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            if head.starts_with(b"POST /e/ ") {
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"status\":")
                    .await;
            }
            open.push(socket);
        }
    });
    let edge = edge_with(
        silent_url,
        "http://127.0.0.1:9".into(),
        "http://127.0.0.1:9".into(),
        |config| config.upstream_timeout_ms = 500,
    )?;
    let started = std::time::Instant::now();
    let answer = reqwest::Client::new()
        .post(edge.url("/batch/"))
        .body(r#"{"api_key":"k","event":"e","distinct_id":"d"}"#)
        .send()
        .await?;
    let waited = started.elapsed();
    assert_eq!(answer.status(), 504);
    let body: serde_json::Value = answer.json().await?;
    assert_eq!(body["error"]["code"], "upstream_timeout", "{body}");
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "answered after {waited:?}"
    );

    // An upstream that stops in the middle of its answer: the client's answer ends in an error
    // once the upstream has sent nothing for the timeout, instead of hanging.
    let started = std::time::Instant::now();
    let answer = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?
        .post(edge.url("/e/"))
        .body(r#"{"api_key":"k","event":"e","distinct_id":"d"}"#)
        .send()
        .await?;
    assert_eq!(answer.status(), 200, "the status line came through");
    let body = answer.bytes().await;
    let waited = started.elapsed();
    assert!(body.is_err(), "a cut answer must not look whole: {body:?}");
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "cut after {waited:?}"
    );
    held.abort();
    Ok(())
}
