//! Intake quotas through the whole stack: an admin sets project A's own quota through edge,
//! ingest applies it from the `AUTH` stream, A over it gets 429 with `Retry-After` and nothing
//! of the refused request reaches ClickHouse, while project B's events are accepted and stored.

use std::time::{Duration, Instant};

use devstack::stack::{ADMIN, PASSWORD, TestStack};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{call, create_project};

/// Status, `Retry-After` in seconds and JSON body of a PostHog batch of `events` through edge.
async fn send(
    http: &reqwest::Client,
    edge: &devstack::test::ServiceHandle,
    key: &str,
    events: usize,
) -> anyhow::Result<(u16, Option<u64>, Value)> {
    let batch: Vec<Value> = (0..events)
        .map(|i| json!({ "event": "quota-test", "distinct_id": format!("u{i}") }))
        .collect();
    let answer = http
        .post(edge.url("/batch/"))
        .json(&json!({ "api_key": key, "batch": batch }))
        .send()
        .await?;
    let status = answer.status().as_u16();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    Ok((status, retry_after, answer.json().await.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread")]
async fn project_a_over_the_quota_its_admin_set_gets_429_while_project_bs_events_are_stored()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let timeout = Duration::from_secs(30);
    let admin = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, timeout)?;
    let (a, a_key) = create_project(&http, &edge, &admin, "A").await?;
    let (b, b_key) = create_project(&http, &edge, &admin, "B").await?;

    // Two events a second for A: ten at once.
    let (status, quota) = call(
        &http,
        Method::PUT,
        edge.url(&format!("/api/admin/projects/{a}/quota")),
        Some(&admin),
        Some(&json!({ "events_per_second": 2, "bytes_per_second": null })),
    )
    .await?;
    assert_eq!(status, 200, "{quota}");
    let (_, listed) = call(
        &http,
        Method::GET,
        edge.url("/api/admin/projects"),
        Some(&admin),
        None,
    )
    .await?;
    let listed_a = listed["projects"]
        .as_array()
        .and_then(|projects| projects.iter().find(|project| project["id"] == a.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        listed_a["quota"],
        json!({ "events_per_second": 2, "bytes_per_second": null }),
        "{listed}"
    );

    // Ingest follows the quota from the stream within moments; until it has, A's batches pass
    // under the default and are counted as stored.
    let mut accepted_a = 0_u64;
    let started = Instant::now();
    let refused = loop {
        let answer = send(&http, &edge, &a_key, 10).await?;
        match answer.0 {
            200 => accepted_a += 10,
            _ => break answer,
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "A was never refused: {accepted_a} events accepted"
        );
    };
    let (status, retry_after, body) = refused;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let retry_after = retry_after.expect("Retry-After");
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    eprintln!("A refused after {accepted_a} events accepted, Retry-After {retry_after} s");

    // B keeps the default quota: its events are accepted and stored.
    for _ in 0..3 {
        let (status, _, body) = send(&http, &edge, &b_key, 100).await?;
        assert_eq!(status, 200, "{body}");
    }
    let count = |project: &str| {
        stack
            .clickhouse_sql(&format!(
                "SELECT count() FROM events FINAL WHERE project_id = '{project}'"
            ))
            .map(|rows| rows.trim().to_owned())
            .unwrap_or_default()
    };
    devstack::wait::until("B's 300 events stored", timeout, || count(&b) == "300")?;
    // B's events were sent after A's refusal: once they are stored, so is everything of A's
    // that was published.
    assert_eq!(
        count(&a),
        accepted_a.to_string(),
        "nothing of A's refused request"
    );
    Ok(())
}
