//! What edge forwards with an event: the client address, request id and trace reach ClickHouse.

use std::time::Duration;

use crate::helpers::create_project;
use devstack::stack::{ADMIN, PASSWORD, TestStack};

#[tokio::test(flavor = "multi_thread")]
async fn the_client_address_request_id_and_trace_follow_an_event_to_clickhouse()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    // The public door believes nobody's X-Forwarded-For; one behind a trusted load balancer does.
    let public = stack.edge(|_| {})?;
    let behind_proxy = stack.edge(|config| {
        config.trusted_proxies = plumbing::forwarded::TrustedProxies::local();
    })?;
    let http = reqwest::Client::new();
    let admin =
        devstack::test::access_token(public.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    let (project_id, key) = create_project(&http, &public, &admin, "Traced").await?;
    let js = async_nats::jetstream::new(plumbing::streams::connect(stack.nats().url()).await?);
    let mut events = js.get_stream(contract::streams::EVENTS_STREAM).await?;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (edge, event, request_id) in [
        (&public, "via-public", "req-public-1"),
        (&behind_proxy, "via-proxy", "req-proxy-1"),
    ] {
        let sent = http
            .post(edge.url("/batch/"))
            .header("x-request-id", request_id)
            .header("traceparent", TRACEPARENT)
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
            .body(
                serde_json::json!({ "api_key": key, "event": event, "distinct_id": "d1" })
                    .to_string(),
            )
            .send()
            .await?;
        assert_eq!(sent.status(), 200, "{event}");
        assert_eq!(
            sent.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(request_id)
        );
        // The message on the stream carries the request's id and trace context.
        let last = events.info().await?.state.last_sequence;
        let message = events.get_raw_message(last).await?;
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|value| value.as_str().to_owned())
        };
        assert_eq!(
            header(contract::streams::REQUEST_ID_HEADER).as_deref(),
            Some(request_id)
        );
        assert_eq!(
            header(contract::streams::TRACEPARENT_HEADER).as_deref(),
            Some(TRACEPARENT)
        );
    }

    // In ClickHouse: the public edge recorded its peer, the proxied one the client the trusted
    // proxy named (the nearest untrusted hop), both anonymised.
    let sql = format!(
        "SELECT event, ip FROM events WHERE project_id = '{project_id}' ORDER BY event FORMAT TSV"
    );
    let expected = "via-proxy\t203.0.113.0\nvia-public\t127.0.0.0\n";
    devstack::wait::until("both events stored", Duration::from_secs(30), || {
        stack
            .clickhouse_sql(&sql)
            .is_ok_and(|rows| rows == expected)
    })?;
    Ok(())
}
