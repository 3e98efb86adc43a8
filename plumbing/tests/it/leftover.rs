//! A service that refuses a request before reading its body still reads the body, so its answer
//! is not lost to a connection reset and the connection serves the client's next request.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use plumbing::config::HttpConfig;
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn a_request_refused_before_its_body_is_read_leaves_the_connection_open_for_the_next()
-> anyhow::Result<()> {
    // Refuses every body unread, as a handler does whose path or token check fails first.
    let routes = Router::new().route(
        "/refuse",
        post(|| async { (StatusCode::BAD_REQUEST, "refused") }),
    );
    let service =
        devstack::test::spawn_service("leftover", move |listener, shutdown| async move {
            let metrics = Arc::new(Metrics::new("leftover_test"));
            let health = Health::new("leftover-test", Arc::clone(&metrics));
            let config = HttpConfig::ephemeral();
            plumbing::http::run_service(listener, routes, health, metrics, &config, shutdown)
                .await?;
            Ok(())
        })?;

    let mut connection = tokio::net::TcpStream::connect(service.addr).await?;
    let body = "x".repeat(64 * 1024);
    connection
        .write_all(
            format!(
                "POST /refuse HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n{body}\
                 GET /healthz HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await?;
    let mut answers = String::new();
    connection.read_to_string(&mut answers).await?;

    assert!(
        answers.starts_with("HTTP/1.1 400"),
        "the refusal arrives: {answers:?}"
    );
    assert_eq!(
        answers.matches("HTTP/1.1 ").count(),
        2,
        "the second request is answered on the same connection: {answers:?}"
    );
    assert!(answers.contains("HTTP/1.1 200"), "{answers:?}");
    Ok(())
}
