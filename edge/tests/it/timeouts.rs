//! An upstream that stays silent, before or in the middle of its answer: 504, or a cut answer.

use std::time::Duration;

use devstack::stack::TestStack;

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
    let stack = TestStack::builder().start()?;
    let edge = stack.edge(|config| {
        config.ingest_url = silent_url;
        config.upstream_timeout_ms = 500;
    })?;
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
