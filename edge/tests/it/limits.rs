//! Request bodies over a route's limit: edge refuses them itself with a 413 JSON, whether the
//! client says the size up front (`Content-Length`) or streams it in chunks, so an SDK never
//! sees a 503 it would retry for ever. A body within the limit still goes through as it comes.

use std::time::Duration;

use crate::helpers::create_project;
use devstack::stack::{ADMIN, PASSWORD, TestStack};

/// What a broken SDK sent: thirty times ingest's limit, so the client is still sending when
/// the refusal comes.
const OVERSIZED_BYTES: usize = 30 * 1024 * 1024;

/// How many times in a row each oversized post must be refused.
const TRIES: usize = 20;

/// A request body of `len` bytes that starts like a PostHog batch.
fn body_of(len: usize) -> Vec<u8> {
    let mut body = b"{\"api_key\":\"phc_none\",\"batch\":[\"".to_vec();
    body.resize(len, b'a');
    body
}

/// `body` as a stream of 64 KiB chunks: sent chunked, with no `Content-Length`.
fn streamed(body: &[u8]) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
        .chunks(64 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// Posts `body` to `url` (streamed when `chunked`): the status and error code, or the
/// transport error, as one line to compare.
async fn post(http: &reqwest::Client, url: &str, body: &[u8], chunked: bool) -> String {
    let request = http.post(url).header("content-type", "application/json");
    let request = if chunked {
        request.body(streamed(body))
    } else {
        request.body(body.to_vec())
    };
    match request.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let json: serde_json::Value = answer.json().await.unwrap_or_default();
            format!("{status} {}", json["error"]["code"])
        }
        Err(err) => format!("no answer: {err:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_through_edge_is_a_413_every_time_with_and_without_content_length()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let oversized = body_of(OVERSIZED_BYTES);

    for chunked in [false, true] {
        let mut outcomes = Vec::new();
        for _ in 0..TRIES {
            outcomes.push(post(&http, &edge.url("/batch/"), &oversized, chunked).await);
        }
        let expected = vec!["413 \"payload_too_large\"".to_owned(); TRIES];
        assert_eq!(outcomes, expected, "chunked: {chunked}");
        if !chunked {
            // A size said up front is refused before ingest is asked at all.
            let metrics = devstack::http::get(
                stack.ingest().addr.port(),
                "/metrics",
                Duration::from_secs(10),
            )?;
            assert!(
                !metrics.body.contains("route=\"/batch/\""),
                "ingest saw a request:\n{}",
                metrics.body
            );
        }
    }
    // One byte over the limit is enough, and the message says the limit.
    let limit = contract::event::MAX_REQUEST_BYTES;
    let refused: serde_json::Value = http
        .post(edge.url("/e/"))
        .body(body_of(limit + 1))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        refused["error"]["message"],
        format!("the body is larger than {limit} bytes"),
        "{refused}"
    );

    // A login is held to what edge reads to find the account it names.
    let refused = post(
        &http,
        &edge.url("/api/auth/login"),
        &body_of(64 * 1024 + 1),
        false,
    )
    .await;
    assert_eq!(refused, "413 \"payload_too_large\"");

    // Within the limit, a streamed batch reaches ingest and is accepted.
    let token =
        devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    let (_, key) = create_project(&http, &edge, &token, "Streamed batches").await?;
    let batch: Vec<_> = (0..50)
        .map(|i| serde_json::json!({ "event": "streamed", "distinct_id": format!("u{i}") }))
        .collect();
    let body = serde_json::json!({ "api_key": key, "batch": batch }).to_string();
    let answer = post(&http, &edge.url("/batch/"), body.as_bytes(), true).await;
    assert_eq!(answer, "200 null", "a streamed batch within the limit");
    // The metric the check above looked for, so its absence there meant something.
    let metrics = devstack::http::get(
        stack.ingest().addr.port(),
        "/metrics",
        Duration::from_secs(10),
    )?;
    assert!(
        metrics.body.contains("route=\"/batch/\""),
        "{}",
        metrics.body
    );
    Ok(())
}
