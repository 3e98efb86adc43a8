//! Saved insights and shared links at query: a tile answers what its analysis route answers; a
//! shared link shows its dashboard's tiles to anyone who has it (and its password, when it has
//! one) and nothing else, until it is revoked or its dashboard deleted.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Stack, eventually};

/// `method path` at auth as `token`: status and JSON.
async fn auth(
    stack: &Stack,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = stack
        .http
        .request(method, stack.auth().url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("auth answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET path` at query, without a token, with the link's password when given.
async fn visit(stack: &Stack, path: &str, password: Option<&str>) -> (StatusCode, Value) {
    let mut request = stack.http.get(stack.query().url(path));
    if let Some(password) = password {
        request = request.header("x-share-password", password);
    }
    let response = request.send().await.expect("query answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until `GET path` (as `token`, or as a visitor) answers `expected`.
async fn wait_for(stack: &Stack, token: Option<&str>, path: &str, expected: StatusCode) -> Value {
    let get = || async {
        match token {
            Some(token) => stack.get(Some(token), path).await,
            None => visit(stack, path, None).await,
        }
    };
    let what = format!("{path} answering {expected}");
    eventually(&what, get, |(status, _)| *status == expected)
        .await
        .1
}

/// Saves an insight on `project` as `token`: its id.
async fn save(stack: &Stack, token: &str, project: &str, insight: Value) -> String {
    let path = format!("/api/projects/{project}/insights");
    let (status, saved) = auth(stack, token, Method::POST, &path, Some(insight)).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    saved["id"].as_str().expect("insight id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_link_shows_its_dashboards_tiles_to_anyone_and_nothing_else() {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let project = stack
        .create_project(&admin, json!({ "name": "Shop", "timezone": "UTC" }))
        .await;
    let p = project["id"].as_str().expect("project").to_owned();
    let now = jiff::Timestamp::now().to_string();
    let batch: Vec<Value> = ["/", "/", "/pricing", "/signup"]
        .iter()
        .enumerate()
        .map(|(n, path)| json!({ "event": "$pageview", "distinct_id": format!("v{n}"), "timestamp": now, "properties": { "$pathname": path } }))
        .collect();
    stack
        .send_batch(project["write_key"].as_str().expect("key"), &batch)
        .await;

    let trends = save(
        &stack,
        &admin,
        &p,
        json!({
            "name": "Pageviews", "kind": "trends", "view": "tab=overview",
            "query": { "range": "7d", "params": "event=%24pageview&interval=day" }
        }),
    )
    .await;
    let top = save(
        &stack,
        &admin,
        &p,
        json!({
            "name": "Top pages", "kind": "top", "view": "tab=overview",
            "query": { "range": "30d", "params": "dimension=path" }
        }),
    )
    .await;
    let funnel = save(&stack, &admin, &p, json!({
        "name": "Signup", "kind": "funnel", "view": "tab=funnel",
        "query": { "range": "7d", "body": { "steps": [{ "event": "$pageview" }, { "event": "$pageview" }], "window_seconds": 3600 } }
    })).await;
    let elsewhere = save(&stack, &admin, &p, json!({
        "name": "Not on the dashboard", "kind": "top", "query": { "range": "today", "params": "dimension=browser" }
    })).await;
    let (status, dashboard) = auth(
        &stack,
        &admin,
        Method::POST,
        &format!("/api/projects/{p}/dashboards"),
        Some(json!({ "name": "Weekly", "insight_ids": [trends, top, funnel] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{dashboard}");
    let d = dashboard["id"].as_str().expect("dashboard").to_owned();

    // A tile answers what its route answers for the same range, once the sink stored the events.
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let week_ago = today
        .checked_sub(jiff::ToSpan::days(6))
        .expect("a week ago");
    let direct = format!(
        "/api/query/trends?project_id={p}&from={week_ago}&to={today}&event=%24pageview&interval=day"
    );
    let total = |body: &Value| -> u64 {
        body["series"][0]["points"]
            .as_array()
            .map(|points| points.iter().filter_map(|p| p["value"].as_u64()).sum())
            .unwrap_or(0)
    };
    let tile_path = format!("/api/query/insights/{trends}");
    let (_, tile) = eventually(
        "the tile of four pageviews",
        || stack.get(Some(&admin), &tile_path),
        |(status, tile)| *status == StatusCode::OK && total(tile) == 4,
    )
    .await;
    let (_, route) = stack.get(Some(&admin), &direct).await;
    assert_eq!(tile, route, "a tile is its route's answer");

    // Shared: anyone with the link sees the dashboard and its tiles, the same numbers.
    let shares = format!("/api/projects/{p}/dashboards/{d}/shares");
    let (status, share) = auth(&stack, &admin, Method::POST, &shares, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let token = share["token"].as_str().expect("token").to_owned();
    assert_eq!(share["link"], format!("/shared/{token}"));
    let shown = wait_for(
        &stack,
        None,
        &format!("/api/shared/{token}"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["name"], "Weekly");
    let names: Vec<&str> = shown["tiles"]
        .as_array()
        .expect("tiles")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["Pageviews", "Top pages", "Signup"]);
    let (status, shared_tile) = visit(
        &stack,
        &format!("/api/shared/{token}/insights/{trends}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shared_tile}");
    assert_eq!(shared_tile, tile);
    let (status, shared_top) =
        visit(&stack, &format!("/api/shared/{token}/insights/{top}"), None).await;
    assert_eq!(status, StatusCode::OK, "{shared_top}");
    let (status, shared_funnel) = visit(
        &stack,
        &format!("/api/shared/{token}/insights/{funnel}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shared_funnel}");

    // Nothing else: another insight of the project, the query routes with the token.
    let (status, _) = visit(
        &stack,
        &format!("/api/shared/{token}/insights/{elsewhere}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = stack.get(Some(&token), &direct).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = visit(&stack, &format!("/api/query/insights/{trends}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = visit(&stack, "/api/shared/not-a-token", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // With a password: asked for, wrong, right.
    let (status, locked) = auth(
        &stack,
        &admin,
        Method::POST,
        &shares,
        Some(json!({ "password": "correct horse" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{locked}");
    assert!(
        !locked.to_string().contains("correct horse"),
        "the password is never echoed"
    );
    let locked_token = locked["token"].as_str().expect("token").to_owned();
    let locked_path = format!("/api/shared/{locked_token}");
    let asked = wait_for(&stack, None, &locked_path, StatusCode::UNAUTHORIZED).await;
    assert_eq!(asked["error"]["code"], "share_password");
    let (status, _) = visit(&stack, &locked_path, Some("wrong horse")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, opened) = visit(&stack, &locked_path, Some("correct horse")).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let (status, _) = visit(
        &stack,
        &format!("{locked_path}/insights/{top}"),
        Some("correct horse"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Revoked: the first link shows nothing; the dashboard deleted: nor does the second.
    let share_id = share["share"]["id"].as_str().expect("share id");
    let (status, _) = auth(
        &stack,
        &admin,
        Method::DELETE,
        &format!("{shares}/{share_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    wait_for(
        &stack,
        None,
        &format!("/api/shared/{token}"),
        StatusCode::NOT_FOUND,
    )
    .await;
    let (status, _) = visit(
        &stack,
        &format!("/api/shared/{token}/insights/{trends}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = auth(
        &stack,
        &admin,
        Method::DELETE,
        &format!("/api/projects/{p}/dashboards/{d}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    wait_for(&stack, None, &locked_path, StatusCode::NOT_FOUND).await;

    // An outsider reads no insight of the project.
    stack.register("outsider@example.com").await;
    let outsider = stack.token("outsider@example.com");
    let (status, _) = stack
        .get(Some(&outsider), &format!("/api/query/insights/{trends}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
