//! Intake quotas against real NATS: a project over its own quota gets 429 with `Retry-After`
//! and nothing of the refused request reaches the `EVENTS` stream, while another project's
//! events are accepted and stored; bytes count as well as events, on the SDK and the script
//! routes alike; a quota an admin changes applies at once; a dashboard user over their byte
//! budget waits alone.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use contract::auth::{AuthEvent, Role};
use devstack::stack::TestStack;
use devstack::test::ServiceHandle;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{access_token, prepared, publish, serve_jwks};

/// Issues `key` to a new project and returns the project's id.
async fn project_with_key(js: &jetstream::Context, key: &str) -> Uuid {
    let project_id = Uuid::now_v7();
    let issued = AuthEvent::WriteKeyIssued {
        by: None,
        project_id,
        key_id: Uuid::now_v7(),
        key: key.to_owned(),
        at: OffsetDateTime::now_utc(),
    };
    publish(js, &issued, project_id).await;
    project_id
}

/// What `PUT /api/admin/projects/{id}/quota` publishes.
async fn set_quota(
    js: &jetstream::Context,
    project_id: Uuid,
    events_per_second: Option<u64>,
    bytes_per_second: Option<u64>,
) {
    let event = AuthEvent::ProjectQuotaSet {
        project_id,
        events_per_second,
        bytes_per_second,
        by: None,
        at: OffsetDateTime::now_utc(),
    };
    publish(js, &event, project_id).await;
}

/// Messages of `project_id` on the `EVENTS` stream (the sink's consumer keeps them there).
async fn stored(js: &jetstream::Context, project_id: Uuid) -> u64 {
    let stream = js.get_stream("EVENTS").await.expect("stream");
    let mut reader = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: format!("events.{project_id}.>"),
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("consumer");
    reader.info().await.expect("info").num_pending
}

/// The answer to a PostHog batch of `events` events, each with `padding` bytes of property.
async fn send_batch(
    ingest: &ServiceHandle,
    key: &str,
    events: usize,
    padding: usize,
) -> (u16, Option<u64>, Value) {
    let batch: Vec<Value> = (0..events)
        .map(|i| {
            json!({
                "event": "e",
                "distinct_id": format!("d{i}"),
                "properties": { "padding": "x".repeat(padding) },
            })
        })
        .collect();
    answer(
        reqwest::Client::new()
            .post(ingest.url("/batch/"))
            .json(&json!({ "api_key": key, "batch": batch })),
    )
    .await
}

/// Status, `Retry-After` in seconds, and JSON body.
async fn answer(request: reqwest::RequestBuilder) -> (u16, Option<u64>, Value) {
    let response = request.send().await.expect("ingest answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// Asserts a 429 in the shared error shape whose message names `budget`; its `Retry-After`.
fn refused(answer: &(u16, Option<u64>, Value), budget: &str) -> u64 {
    let (status, retry_after, body) = answer;
    assert_eq!(*status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains(budget)),
        "{body}"
    );
    retry_after.expect("Retry-After in seconds")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_over_its_quota_gets_429_while_another_projects_events_are_accepted_and_stored() {
    let (mut stack, js) = prepared(TestStack::builder().ingest()).await;
    let busy = project_with_key(&js, "ea_busy").await;
    let calm = project_with_key(&js, "ea_calm").await;
    // One event a second: five at once (the burst is five seconds' worth), so the next three
    // are refused unless three seconds pass between the two requests.
    set_quota(&js, busy, Some(1), None).await;
    stack.start_services().expect("ingest starts");
    let ingest = stack.ingest();

    assert_eq!(send_batch(ingest, "ea_busy", 5, 0).await.0, 200);
    let over = send_batch(ingest, "ea_busy", 3, 0).await;
    let refused_at = Instant::now();
    let retry_after = refused(&over, "events for this project");
    assert!(
        (1..=3).contains(&retry_after),
        "3 events refill in 3 s: {retry_after}"
    );
    assert_eq!(stored(&js, busy).await, 5, "nothing of the refused request");

    // The other project keeps the default quota (1000 a second) and is not slowed down.
    for _ in 0..3 {
        assert_eq!(send_batch(ingest, "ea_calm", 100, 0).await.0, 200);
    }
    assert_eq!(stored(&js, calm).await, 300);

    assert_eq!(
        devstack::test::metric(
            ingest,
            "ingest_events_total{route=\"posthog\",result=\"over_quota\"}"
        ),
        Some(3.0),
        "the refused events counted once each"
    );

    // The refused project is served again once its bucket refilled, as Retry-After said.
    devstack::wait::until_async(
        "the busy project's bucket",
        Duration::from_secs(60),
        || async { send_batch(ingest, "ea_busy", 3, 0).await.0 == 200 },
    )
    .await
    .expect("served again");
    let waited = refused_at.elapsed();
    eprintln!("busy project served again {waited:?} after its 429 (Retry-After {retry_after})");
    assert_eq!(stored(&js, busy).await, 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_count_against_a_project_and_a_quota_an_admin_raises_applies_at_once() {
    let (mut stack, js) = prepared(TestStack::builder().ingest()).await;
    let project = project_with_key(&js, "ea_heavy").await;
    // 1 KB a second: 5 KB at once.
    set_quota(&js, project, None, Some(1_000)).await;
    stack.start_services().expect("ingest starts");
    let ingest = stack.ingest();

    // One event of 20 KB is over the whole burst: it passes on the full bucket and leaves a
    // debt of 15 KB, so the next one waits as long as the average rate says.
    assert_eq!(send_batch(ingest, "ea_heavy", 1, 20_000).await.0, 200);
    let over = send_batch(ingest, "ea_heavy", 1, 100).await;
    let retry_after = refused(&over, "event bytes for this project");
    assert!(
        retry_after >= 15,
        "15 KB of debt at 1 KB a second: {retry_after}"
    );
    assert_eq!(stored(&js, project).await, 1);

    // Back to the default (8 MiB a second): served long before the old rate's Retry-After.
    set_quota(&js, project, None, None).await;
    let raised_at = Instant::now();
    devstack::wait::until_async("the raised quota", Duration::from_secs(10), || async {
        send_batch(ingest, "ea_heavy", 1, 100).await.0 == 200
    })
    .await
    .expect("served under the raised quota");
    let waited = raised_at.elapsed();
    eprintln!(
        "raised quota applied {waited:?} after it was published (Retry-After was {retry_after} s)"
    );
    assert_eq!(stored(&js, project).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dashboard_user_over_their_byte_budget_gets_429_and_another_user_does_not() {
    let keys = auth::signing::SigningKeys::from_seeds(&[[9; 32]]).expect("keys");
    let auth_url = serve_jwks(&keys).await;
    let (mut stack, js) = prepared(TestStack::builder().configure_ingest(move |config| {
        config.auth = ingest::AuthConfig::at(auth_url.clone());
        // 4 KB a second: 20 KB at once.
        config.quotas.user_bytes_per_second = 4_000;
    }))
    .await;
    stack.start_services().expect("ingest starts");
    let ingest = stack.ingest();
    let (heavy, light) = (Uuid::now_v7(), Uuid::now_v7());
    let send = |user: Uuid, events: usize| {
        let batch: Vec<Value> = (0..events)
            .map(|_| json!({ "event": "typed", "properties": { "text": "y".repeat(2_000) } }))
            .collect();
        answer(
            reqwest::Client::new()
                .post(ingest.url("/api/events"))
                .bearer_auth(access_token(&keys, user, Role::User))
                .json(&json!({ "batch": batch })),
        )
    };

    let first = send(heavy, 8).await;
    assert_eq!(first.0, 200, "{}", first.2);
    let over = send(heavy, 8).await;
    let retry_after = refused(&over, "event bytes from this user");
    assert!(retry_after >= 2, "{retry_after}");
    let other = send(light, 8).await;
    assert_eq!(
        other.0, 200,
        "another user has a budget of their own: {}",
        other.2
    );
    assert_eq!(
        stored(&js, contract::BUILTIN_PROJECT_ID).await,
        16,
        "the two accepted requests, nothing of the refused one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn umami_page_views_over_their_projects_quota_are_refused_and_not_stored() {
    let (mut stack, js) = prepared(TestStack::builder().ingest()).await;
    let site = Uuid::now_v7();
    let created = AuthEvent::ProjectCreated {
        project_id: site,
        name: "site".to_owned(),
        timezone: "UTC".to_owned(),
        by: None,
        at: OffsetDateTime::now_utc(),
    };
    publish(&js, &created, site).await;
    let domains = AuthEvent::ProjectDomainsSet {
        by: None,
        project_id: site,
        domains: vec!["site.example".to_owned()],
        at: OffsetDateTime::now_utc(),
    };
    publish(&js, &domains, site).await;
    // One event a second: five at once.
    set_quota(&js, site, Some(1), None).await;
    stack.start_services().expect("ingest starts");
    let ingest = stack.ingest();
    let page_view = json!({
        "type": "event",
        "payload": { "website": site.to_string(), "hostname": "site.example", "url": "/", "title": "Home" },
    });
    let send = || {
        answer(
            reqwest::Client::new()
                .post(ingest.url("/api/send"))
                .header("content-type", "text/plain")
                .body(page_view.to_string()),
        )
    };

    for _ in 0..5 {
        let accepted = send().await;
        assert_eq!(accepted.0, 200, "{}", accepted.2);
    }
    let retry_after = refused(&send().await, "events for this project");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(stored(&js, site).await, 5);
}
