//! The admin's system status through edge: the events sent counted, a stopped service shown
//! not ready.

use std::time::Duration;

use devstack::stack::{ADMIN, PASSWORD, Service, TestStack};

use crate::helpers::{create_project, user_and_analyst};

/// `GET /api/admin/status` through `edge` with `token`: the status code and the body.
async fn system_status(
    http: &reqwest::Client,
    edge: &devstack::test::ServiceHandle,
    token: Option<&str>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let url = edge.url("/api/admin/status");
    crate::helpers::call(http, reqwest::Method::GET, url, token, None).await
}

/// The entry of `list` (`services`, `streams`, `consumers`) whose `name` is `name`.
fn named<'a>(status: &'a serde_json::Value, list: &str, name: &str) -> &'a serde_json::Value {
    status[list]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["name"] == name))
        .unwrap_or(&serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_status_counts_the_events_sent_and_shows_a_stopped_service_not_ready()
-> anyhow::Result<()> {
    let mut stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let timeout = Duration::from_secs(30);
    let admin = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, timeout)?;
    let (user, analyst) = user_and_analyst(&http, &edge, &admin).await?;

    // Only admins see it.
    for (token, expected) in [(None, 401), (Some(&user), 403), (Some(&analyst), 403)] {
        let (code, body) = system_status(&http, &edge, token.map(String::as_str)).await?;
        assert_eq!(code, expected, "{body}");
    }

    // A known number of events, stored in ClickHouse.
    const SENT: u64 = 25;
    let (_, key) = create_project(&http, &edge, &admin, "Status").await?;
    let batch: Vec<_> = (0..SENT)
        .map(|i| serde_json::json!({ "event": "status-test", "distinct_id": format!("u{i}") }))
        .collect();
    let sent = http
        .post(edge.url("/batch/"))
        .body(serde_json::json!({ "api_key": key, "batch": batch }).to_string())
        .send()
        .await?;
    assert_eq!(sent.status(), 200);
    devstack::wait::until("the events stored", timeout, || {
        stack
            .clickhouse_sql("SELECT count() FROM events FORMAT TSV")
            .is_ok_and(|rows| rows.trim() == SENT.to_string())
    })?;
    // The sink acks right after its insert: the status shows nothing pending once it has.
    devstack::wait::until_async("the sink's acks", timeout, || async {
        system_status(&http, &edge, Some(&admin))
            .await
            .is_ok_and(|(_, status)| {
                let sink = named(&status, "consumers", contract::streams::SINK_CONSUMER);
                // The history copies from the backlog on its own, a moment later.
                let history = named(&status, "streams", contract::streams::EVENTS_HISTORY_STREAM);
                sink["pending"] == 0 && sink["ack_pending"] == 0 && history["messages"] == SENT
            })
    })
    .await?;

    let (code, status) = system_status(&http, &edge, Some(&admin)).await?;
    assert_eq!(code, 200, "{status}");
    for service in ["edge", "ingest", "auth", "query", "sink"] {
        let found = named(&status, "services", service);
        assert_eq!(found["ready"], true, "{service}: {status}");
        assert!(found["detail"].is_null(), "{service}: {status}");
    }
    assert_eq!(
        status["services"].as_array().map(Vec::len),
        Some(5),
        "{status}"
    );
    // Stored and acked: the backlog let go of them, the history keeps them.
    let events = named(&status, "streams", contract::streams::EVENTS_STREAM);
    assert_eq!(events["last_sequence"], SENT, "{status}");
    let history = named(&status, "streams", contract::streams::EVENTS_HISTORY_STREAM);
    assert_eq!(history["messages"], SENT, "{status}");
    let auth_stream = named(&status, "streams", contract::streams::AUTH_STREAM);
    assert!(auth_stream["messages"].as_u64() > Some(0), "{status}");
    let projector = named(
        &status,
        "consumers",
        contract::streams::AUTH_PROJECTOR_CONSUMER,
    );
    assert_eq!(
        projector["stream"],
        contract::streams::AUTH_STREAM,
        "{status}"
    );
    assert_eq!(status["dlq_messages"], 0, "{status}");
    assert_eq!(status["clickhouse"]["rows"], SENT, "{status}");
    assert!(status["clickhouse"]["parts"].as_u64() > Some(0), "{status}");
    assert!(
        status["clickhouse"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{status}"
    );
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
    assert!(
        status["checked_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{status}"
    );

    // The operator's counters agree with the known load: every event accepted once by ingest,
    // every row inserted once by the sink, one batch request through PostHog's route.
    let metrics = |service: &devstack::test::ServiceHandle| {
        let url = service.url("/metrics");
        let http = http.clone();
        async move { anyhow::Ok(http.get(url).send().await?.text().await?) }
    };
    let ingest_metrics = metrics(stack.ingest()).await?;
    assert!(
        ingest_metrics.contains(&format!(
            "ingest_events_total{{route=\"posthog\",result=\"accepted\"}} {SENT}\n"
        )),
        "{ingest_metrics}"
    );
    let sink_metrics = metrics(stack.sink()).await?;
    assert!(
        sink_metrics.contains(&format!("sink_rows_inserted_total {SENT}\n")),
        "{sink_metrics}"
    );

    // The sink stopped: shown not ready, and the rest still answered.
    stack.stop(Service::Sink)?;
    let (code, status) = system_status(&http, &edge, Some(&admin)).await?;
    assert_eq!(code, 200, "{status}");
    let sink = named(&status, "services", "sink");
    assert_eq!(sink["ready"], false, "{status}");
    assert!(sink["detail"].is_string(), "{status}");
    assert_eq!(
        named(&status, "services", "query")["ready"],
        true,
        "{status}"
    );
    assert_eq!(status["clickhouse"]["rows"], SENT, "{status}");

    // Query stopped too: its figures are missing, with a sentence saying so.
    stack.stop(Service::Query)?;
    let (code, status) = system_status(&http, &edge, Some(&admin)).await?;
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        named(&status, "services", "query")["ready"],
        false,
        "{status}"
    );
    assert_eq!(
        named(&status, "services", "ingest")["ready"],
        true,
        "{status}"
    );
    assert!(status["clickhouse"].is_null(), "{status}");
    assert!(status["dlq_messages"].is_null(), "{status}");
    assert_eq!(status["streams"], serde_json::json!([]), "{status}");
    assert!(
        status["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("query")),
        "{status}"
    );
    Ok(())
}
