//! API keys on the query API: a key reads its owner's projects (only those it lists, when it
//! lists any), read-only, until revoked; auth takes none; the key never shows up again, in an
//! answer or in a log line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Stack, eventually};

const OWNER: &str = "notebook-owner@example.com";

/// Every log line of the services in this test process, as text.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    /// Captures the services' logs, at every level, from here on.
    fn capture() -> Self {
        let lines = Self::default();
        let writer = lines.clone();
        tracing_subscriber::fmt()
            .with_env_filter("query=trace,auth=trace,plumbing=trace,edge=trace")
            .with_writer(move || writer.clone())
            .try_init()
            .expect("no other test of this binary installs a log subscriber");
        lines
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

/// `method path` at `service` with `bearer`: status and JSON.
async fn call(
    stack: &Stack,
    base: &devstack::test::ServiceHandle,
    bearer: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = stack
        .http
        .request(method, base.url(path))
        .bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the service answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until `check` holds of `GET path` at query with `bearer`.
async fn wait_for(
    stack: &Stack,
    bearer: &str,
    path: &str,
    what: &str,
    check: impl Fn(StatusCode, &Value) -> bool,
) -> Value {
    let what = format!("{what}: {path}");
    let done = |(status, body): &(StatusCode, Value)| check(*status, body);
    eventually(&what, || stack.get(Some(bearer), path), done)
        .await
        .1
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_reads_its_owners_projects_read_only_until_it_is_revoked() {
    let lines = Lines::capture();
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let a = stack
        .create_project(&admin, json!({ "name": "A", "timezone": "UTC" }))
        .await;
    let b = stack
        .create_project(&admin, json!({ "name": "B", "timezone": "UTC" }))
        .await;
    let (a_id, b_id) = (a["id"].as_str().expect("A"), b["id"].as_str().expect("B"));
    stack.register(OWNER).await;
    let owner = stack.token(OWNER);
    let (_, me) = call(
        &stack,
        stack.auth(),
        &owner,
        Method::GET,
        "/api/auth/me",
        None,
    )
    .await;
    let owner_id = me["id"].as_str().expect("owner id");
    for (project, role) in [(a_id, "analyst"), (b_id, "viewer")] {
        let path = format!("/api/admin/projects/{project}/members/{owner_id}");
        let body = Some(json!({ "role": role }));
        let (status, set) = call(&stack, stack.auth(), &admin, Method::PUT, &path, body).await;
        assert_eq!(status, StatusCode::OK, "{set}");
    }

    // Two keys: one for all of the owner's projects, one for A only.
    let create = |body: Value| {
        call(
            &stack,
            stack.auth(),
            &owner,
            Method::POST,
            "/api/auth/api-keys",
            Some(body),
        )
    };
    let (status, every) = create(json!({ "name": "notebook" })).await;
    assert_eq!(status, StatusCode::CREATED, "{every}");
    let (status, only_a) = create(json!({ "name": "A only", "project_ids": [a_id] })).await;
    assert_eq!(status, StatusCode::CREATED, "{only_a}");
    let every_key = every["key"].as_str().expect("the key, once").to_owned();
    let only_a_key = only_a["key"].as_str().expect("the key, once").to_owned();
    assert!(every_key.starts_with("eak_"), "{every_key}");
    assert_eq!(every["prefix"], every_key[..12]);
    assert_eq!(only_a["project_ids"], json!([a_id]));

    // Three pageviews in A; the key reads them from A's trends.
    let now = jiff::Timestamp::now().to_string();
    let batch: Vec<Value> = (0..3)
        .map(|n| json!({ "event": "$pageview", "distinct_id": format!("reader-{n}"), "timestamp": now }))
        .collect();
    stack
        .send_batch(a["write_key"].as_str().expect("write key"), &batch)
        .await;
    let trends_of =
        |project: &str| format!("/api/query/trends?project_id={project}&event=$pageview");
    let total = |body: &Value| -> u64 {
        body["series"][0]["points"]
            .as_array()
            .map(|points| points.iter().filter_map(|p| p["value"].as_u64()).sum())
            .unwrap_or(0)
    };
    let read = wait_for(
        &stack,
        &every_key,
        &trends_of(a_id),
        "the key reads A",
        |status, body| status == StatusCode::OK && total(body) == 3,
    )
    .await;
    let (_, by_token) = stack.get(Some(&owner), &trends_of(a_id)).await;
    assert_eq!(
        read["series"], by_token["series"],
        "a key reads what its owner reads"
    );

    // The limited key reads A only; the other reads B too, where its owner is a viewer.
    wait_for(
        &stack,
        &only_a_key,
        &trends_of(a_id),
        "the A key reads A",
        |status, _| status == StatusCode::OK,
    )
    .await;
    assert_eq!(
        stack.get(Some(&only_a_key), &trends_of(b_id)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stack.get(Some(&every_key), &trends_of(b_id)).await.0,
        StatusCode::OK
    );
    let live = stack
        .http
        .get(
            stack
                .query()
                .url(&format!("/api/query/live?project_id={a_id}")),
        )
        .bearer_auth(&every_key)
        .send()
        .await
        .expect("live");
    assert_eq!(
        live.status(),
        StatusCode::OK,
        "the live feed takes a key too"
    );
    drop(live);

    // Read-only: no erasure, no export (their owner is not the project's admin anyway, but a
    // key is refused even for an admin's); auth takes no key.
    let erase = format!("/api/admin/projects/{a_id}/persons/reader-0");
    let (status, refused) = call(
        &stack,
        stack.query(),
        &every_key,
        Method::DELETE,
        &erase,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, _) = call(
        &stack,
        stack.auth(),
        &every_key,
        Method::GET,
        "/api/auth/me",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Listed with their last use, never with the key itself.
    let listed = wait_for_listing(&stack, &owner, every["id"].as_str().expect("id")).await;
    let text = listed.to_string();
    assert!(
        !text.contains(&every_key) && !text.contains(&only_a_key),
        "{text}"
    );

    // Revoked: its next calls are refused (query reads the revocation from the stream within
    // moments); the other key still reads.
    let revoke = format!("/api/auth/api-keys/{}", every["id"].as_str().expect("id"));
    let (status, _) = call(&stack, stack.auth(), &owner, Method::DELETE, &revoke, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let refused = wait_for(
        &stack,
        &every_key,
        &trends_of(a_id),
        "revoked",
        |status, _| status == StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(refused["error"]["code"], "unauthorized");
    assert_eq!(
        stack.get(Some(&only_a_key), &trends_of(a_id)).await.0,
        StatusCode::OK
    );
    let (_, listed) = call(
        &stack,
        stack.auth(),
        &owner,
        Method::GET,
        "/api/auth/api-keys",
        None,
    )
    .await;
    assert_eq!(
        listed["api_keys"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );

    let logged = lines.text();
    assert!(
        !logged.is_empty(),
        "the services logged nothing: the capture is broken"
    );
    assert!(
        !logged.contains(&every_key) && !logged.contains(&only_a_key),
        "a key was logged"
    );
    assert!(
        !logged.contains(&every_key[4..]),
        "a key's secret part was logged"
    );
}

/// The owner's key list once auth recorded that `key_id` was used.
async fn wait_for_listing(stack: &Stack, owner: &str, key_id: &str) -> Value {
    let list = || {
        call(
            stack,
            stack.auth(),
            owner,
            Method::GET,
            "/api/auth/api-keys",
            None,
        )
    };
    let used = |(status, listed): &(StatusCode, Value)| {
        *status == StatusCode::OK
            && listed["api_keys"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|key| key["id"] == key_id && key["last_used_at"].is_string())
    };
    eventually("a last use recorded", list, used).await.1
}
