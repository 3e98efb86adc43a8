//! Per-project access: a member reads their projects only, every other project answers 404 as
//! one that does not exist, and a change of membership applies at their next call, without a
//! new token; a removal ends their open live feed of the project.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::Stack;

const MEMBER: &str = "member@example.com";

/// Every query route of `project`: (method, path, JSON body).
fn routes(project: &str) -> Vec<(Method, String, Option<Value>)> {
    let scope = format!("project_id={project}&from=2026-10-01&to=2026-10-07");
    let mut calls: Vec<(Method, String, Option<Value>)> =
        ["overview", "trends", "top", "events", "persons", "catalog"]
            .into_iter()
            .map(|route| (Method::GET, format!("/api/query/{route}?{scope}"), None))
            .collect();
    calls.push((
        Method::POST,
        format!("/api/query/funnel?{scope}"),
        Some(json!({ "steps": [{ "event": "a" }, { "event": "b" }], "window_seconds": 60 })),
    ));
    calls.push((
        Method::POST,
        format!("/api/query/retention?{scope}"),
        Some(json!({ "start_event": "a", "return_event": "a", "period": "day", "periods": 2 })),
    ));
    calls
}

/// The status of `method path` at query with `token`.
async fn status(
    stack: &Stack,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> StatusCode {
    let mut request = stack
        .http
        .request(method, stack.query().url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("query answers").status()
}

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

/// Waits until `token`'s overview of `project` answers `expected` (query follows memberships
/// on the stream, a moment after auth stored them).
async fn wait_for_overview(stack: &Stack, token: &str, project: &str, expected: StatusCode) {
    let path = format!("/api/query/overview?project_id={project}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = status(stack, token, Method::GET, &path, None).await;
        if got == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{path}: {got}, not {expected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_reads_their_projects_only_and_a_change_applies_at_their_next_call() {
    let stack = Stack::start_with(None);
    let admin = stack.token("admin@example.com");
    let a = stack
        .create_project(&admin, json!({ "name": "A", "timezone": "UTC" }))
        .await["id"]
        .as_str()
        .expect("project A")
        .to_owned();
    let b = stack
        .create_project(&admin, json!({ "name": "B", "timezone": "UTC" }))
        .await["id"]
        .as_str()
        .expect("project B")
        .to_owned();
    stack.register(MEMBER).await;
    let member = stack.token(MEMBER);
    let (_, me) = auth(&stack, &member, Method::GET, "/api/auth/me", None).await;
    let member_id = me["id"].as_str().expect("member id").to_owned();
    let (status_set, set) = auth(
        &stack,
        &admin,
        Method::PUT,
        &format!("/api/admin/projects/{a}/members/{member_id}"),
        Some(json!({ "role": "analyst" })),
    )
    .await;
    assert_eq!(status_set, StatusCode::OK, "{set}");
    assert_eq!(set["role"], "analyst");
    assert_eq!(set["email"], MEMBER);

    // Project A answers, project B is a 404 on every route, as an unknown project is.
    wait_for_overview(&stack, &member, &a, StatusCode::OK).await;
    for (project, expected) in [(&a, StatusCode::OK), (&b, StatusCode::NOT_FOUND)] {
        for (method, path, body) in routes(project) {
            let got = status(&stack, &member, method, &path, body.as_ref()).await;
            assert_eq!(got, expected, "{path}");
        }
        let live = format!("/api/query/live?project_id={project}");
        let feed = stack
            .http
            .get(stack.query().url(&live))
            .bearer_auth(&member)
            .send()
            .await
            .expect("live");
        assert_eq!(feed.status(), expected, "{live}");
    }
    let unknown = "/api/query/overview?project_id=0190a3e2-7c4d-7000-8000-00000000dead";
    let (_, nothing) = stack.get(Some(&member), unknown).await;
    let (_, other) = stack
        .get(
            Some(&member),
            &format!("/api/query/overview?project_id={b}"),
        )
        .await;
    assert_eq!(nothing, other, "no existence leak");
    let (_, listed) = auth(&stack, &member, Method::GET, "/api/auth/projects", None).await;
    assert_eq!(
        listed["projects"],
        json!([{ "id": a, "name": "A", "timezone": "UTC", "role": "analyst" }])
    );

    // A member manages nothing: 403 on their project, 404 on another.
    let members_of = |project: &str| format!("/api/admin/projects/{project}/members");
    assert_eq!(
        auth(&stack, &member, Method::GET, &members_of(&a), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth(&stack, &member, Method::GET, &members_of(&b), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Added to B: their next call reads it, with the same token; its live feed opens.
    let member_of_b = format!("/api/admin/projects/{b}/members/{member_id}");
    let (added, _) = auth(
        &stack,
        &admin,
        Method::PUT,
        &member_of_b,
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(added, StatusCode::OK);
    wait_for_overview(&stack, &member, &b, StatusCode::OK).await;
    let (_, listed) = auth(&stack, &member, Method::GET, &members_of(&b), None).await;
    assert_eq!(
        listed["error"]["code"], "forbidden",
        "a viewer manages nothing"
    );
    let (_, members) = auth(&stack, &admin, Method::GET, &members_of(&b), None).await;
    assert_eq!(members["members"][0]["role"], "viewer", "{members}");
    let mut feed = stack
        .http
        .get(
            stack
                .query()
                .url(&format!("/api/query/live?project_id={b}")),
        )
        .bearer_auth(&member)
        .send()
        .await
        .expect("live");
    assert_eq!(feed.status(), StatusCode::OK);

    // Removed from B: the open feed ends, and B is a 404 again.
    let (removed, _) = auth(&stack, &admin, Method::DELETE, &member_of_b, None).await;
    assert_eq!(removed, StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut received = String::new();
    while !received.contains("event: end") {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the feed still open after the removal: {received}"
        );
        match tokio::time::timeout(left, feed.chunk()).await {
            Ok(Ok(Some(piece))) => received.push_str(&String::from_utf8_lossy(&piece)),
            Ok(Ok(None)) => break,
            Ok(Err(err)) => panic!("reading the feed: {err}"),
            Err(_) => panic!("the feed still open after the removal: {received}"),
        }
    }
    assert!(received.contains("access_revoked"), "{received}");
    wait_for_overview(&stack, &member, &b, StatusCode::NOT_FOUND).await;
    let (again, _) = auth(&stack, &admin, Method::DELETE, &member_of_b, None).await;
    assert_eq!(again, StatusCode::NOT_FOUND, "no longer a member");
}
