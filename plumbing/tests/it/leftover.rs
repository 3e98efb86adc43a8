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
    let metrics = Arc::new(Metrics::new("leftover_test"));
    // Refuses every body unread, as a handler does whose path or token check fails first.
    let routes = Router::new().route(
        "/refuse",
        post(|| async { (StatusCode::BAD_REQUEST, "refused") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let health = Health::new("leftover-test", Arc::clone(&metrics));
    let service = tokio::spawn(async move {
        plumbing::http::run_service(
            listener,
            routes,
            health,
            metrics,
            &HttpConfig::ephemeral(),
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });

    let mut connection = tokio::net::TcpStream::connect(addr).await?;
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
    let _ = stop.send(());
    service.await??;

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
