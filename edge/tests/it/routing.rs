//! Every call goes through edge to its service, each route with its role, and a service
//! bypassing edge still refuses.

use std::time::Duration;

use devstack::stack::{ADMIN, PASSWORD, Service, TestStack};

use crate::helpers::{create_project, user_and_analyst};

#[tokio::test(flavor = "multi_thread")]
async fn every_call_goes_through_edge_to_its_service_and_an_upstream_down_is_a_503()
-> anyhow::Result<()> {
    let mut stack = TestStack::builder().everything().start()?;
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
    let (project_id, key) = create_project(&http, &edge, &token, "Through edge").await?;

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
    stack.stop(Service::Query)?;
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

/// `method path` with `token`, and the status edge answered.
async fn status(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
) -> anyhow::Result<u16> {
    let body = serde_json::json!({ "event": "role-matrix" });
    let body = (method == reqwest::Method::POST).then_some(&body);
    Ok(crate::helpers::call(http, method, url, token, body)
        .await?
        .0)
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_enforces_each_role_and_a_service_bypassing_it_still_refuses() -> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let timeout = Duration::from_secs(30);
    let admin = devstack::test::access_token(port, ADMIN, PASSWORD, timeout)?;

    let (user, analyst) = user_and_analyst(&http, &edge, &admin).await?;
    let project = contract::BUILTIN_PROJECT_ID;
    let catalog = format!("/api/query/catalog?project_id={project}");
    // Query learns the analyst's membership from the stream a moment after auth stored it.
    devstack::wait::until_async("query is up", timeout, || async {
        status(
            &http,
            reqwest::Method::GET,
            edge.url(&catalog),
            Some(&analyst),
        )
        .await
        .is_ok_and(|code| code == 200)
    })
    .await?;

    // Expected status with no token, a user's (a member of no project: the built-in one is a 404
    // to them), an analyst member's, an admin's.
    use reqwest::Method;
    let matrix: [(Method, &str, [u16; 4]); 8] = [
        (Method::GET, "/api/auth/me", [401, 200, 200, 200]),
        (Method::GET, "/api/auth/projects", [401, 200, 200, 200]),
        (Method::GET, "/api/query/system", [401, 403, 403, 200]),
        (Method::GET, "/api/admin/status", [401, 403, 403, 200]),
        (Method::POST, "/api/events", [401, 200, 200, 200]),
        (Method::GET, &catalog, [401, 404, 200, 200]),
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

    // The projects a member picks from: theirs, with their role on each.
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
    assert_eq!(projects["projects"][0]["role"], "analyst", "{projects}");

    // Bypassing edge gets nothing either: each service checks the token itself.
    for (service, method, path) in [
        (stack.query(), Method::GET, catalog.as_str()),
        (stack.ingest(), Method::POST, "/api/events"),
        (stack.auth(), Method::GET, "/api/admin/users"),
        (stack.auth(), Method::GET, "/api/auth/projects"),
        (stack.query(), Method::GET, "/api/query/system"),
    ] {
        assert_eq!(
            status(&http, method.clone(), service.url(path), None).await?,
            401,
            "{method} {path} directly"
        );
        assert_eq!(
            status(&http, method.clone(), service.url(path), Some(&user)).await?,
            match path {
                "/api/events" | "/api/auth/projects" => 200,
                path if path == catalog => 404,
                _ => 403,
            },
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
