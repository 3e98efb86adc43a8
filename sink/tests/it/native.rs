//! `POST /api/events`: the dashboard's own events, from logged-in users, into the built-in
//! project; who did it comes from the verified token, never from the body.

use std::time::Duration;

use devstack::stack::TestStack;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn a_logged_in_user_sends_events_to_the_built_in_project_as_themselves() {
    let stack = TestStack::builder()
        .configure_auth(|config| config.first_admin = None)
        .ingest()
        .sink()
        .start()
        .expect("the stack starts");
    let (auth, ingest) = (stack.auth(), stack.ingest());
    let http = reqwest::Client::new();
    let register = json!({ "email": "ui@example.com", "password": "correct horse battery" });
    let response = http
        .post(auth.url("/api/auth/register"))
        .json(&register)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let login: Value = http
        .post(auth.url("/api/auth/login"))
        .json(&register)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let user_id = login["user"]["id"].as_str().expect("id").to_owned();

    let send = |body: Value, token: Option<&str>| {
        let mut request = http.post(ingest.url("/api/events")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("answers");
            (
                response.status(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // The built-in project exists once auth has started; ingest learns it from the stream.
    devstack::wait::until_async("the built-in project", Duration::from_secs(10), || async {
        send(json!({ "event": "probe" }), Some(&token)).await.0 == StatusCode::OK
    })
    .await
    .expect("accepted");

    let (status, body) = send(
        json!({ "event": "clicked", "distinct_id": "someone-else", "properties": { "button": "checkout" } }),
        Some(&token),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "accepted": 1 })));
    let batch = json!({ "batch": [{ "event": "$pageview", "properties": { "$current_url": "https://app.example/shop" } }, { "event": "added to cart" }] });
    assert_eq!(
        send(batch, Some(&token)).await,
        (StatusCode::OK, json!({ "accepted": 2 }))
    );

    assert_eq!(
        send(json!({ "event": "x" }), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(json!({ "event": "x" }), Some("not.a.token")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let other = json!({ "event": "x", "project_id": Uuid::now_v7().to_string() });
    let (status, body) = send(other, Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let query = |sql: &str| {
        let (server, db) = stack.clickhouse();
        server
            .query(&sql.replace("{db}", db))
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    };
    devstack::wait::until_async("4 rows", Duration::from_secs(30), || async {
        query("SELECT count() FROM {db}.events FINAL") == "4"
    })
    .await
    .expect("stored");
    assert_eq!(
        query(
            "SELECT DISTINCT toString(project_id), distinct_id, user_id, lib FROM {db}.events FORMAT TSV"
        ),
        format!(
            "{}\t{user_id}\t{user_id}\tevent-analytics",
            contract::BUILTIN_PROJECT_ID
        )
    );
    assert_eq!(
        query("SELECT path FROM {db}.events WHERE event = '$pageview'"),
        "/shop"
    );
}
