//! The ingest-side write key map follows the `AUTH` stream: keys issued before ingest started are
//! known once it is ready, and a revoked key stops resolving within 5 seconds.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use contract::auth::AuthEvent;
use devstack::stack::TestStack;
use plumbing::projects::Projects;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{prepared, publish};

fn issued(project_id: Uuid, key_id: Uuid, key: &str) -> AuthEvent {
    AuthEvent::WriteKeyIssued {
        by: None,
        project_id,
        key_id,
        key: key.to_owned(),
        at: OffsetDateTime::now_utc(),
    }
}

/// A stack with `keys` issued to one new project, and a ready ingest (its `config` changed by
/// `configure`) in front of it.
async fn ingest_with_keys(
    keys: &[&str],
    configure: impl Fn(&mut ingest::Config) + Send + Sync + 'static,
) -> (TestStack, jetstream::Context) {
    let (mut stack, js) = prepared(TestStack::builder().configure_ingest(configure)).await;
    let project = Uuid::now_v7();
    for key in keys {
        publish(&js, &issued(project, Uuid::now_v7(), key), project).await;
    }
    stack.start_services().expect("ingest starts");
    (stack, js)
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_replay_at_start_and_a_revoked_key_stops_resolving_within_five_seconds() {
    let (_stack, js) = prepared(TestStack::builder().nats()).await;

    let project = Uuid::now_v7();
    let (old_id, new_id) = (Uuid::now_v7(), Uuid::now_v7());
    publish(&js, &issued(project, old_id, "ea_old"), project).await;
    // Noise on other subjects must not confuse the map.
    js.publish("auth.user.x", "{\"type\":\"unknown\"}".into())
        .await
        .expect("publishes");

    let keys = Projects::follow(js.clone());
    devstack::wait::until_async("the replay", Duration::from_secs(10), || async {
        keys.is_caught_up()
    })
    .await
    .expect("catches up");
    assert_eq!(
        keys.project("ea_old"),
        Some(project),
        "a key issued before start resolves"
    );
    assert_eq!(keys.project("ea_unknown"), None);

    publish(&js, &issued(project, new_id, "ea_new"), project).await;
    devstack::wait::until_async("the new key", Duration::from_secs(5), || async {
        keys.project("ea_new") == Some(project)
    })
    .await
    .expect("a new key resolves");

    let revoked_at = Instant::now();
    let revoke = AuthEvent::WriteKeyRevoked {
        by: None,
        project_id: project,
        key_id: old_id,
        at: OffsetDateTime::now_utc(),
    };
    publish(&js, &revoke, project).await;
    devstack::wait::until_async("the revocation", Duration::from_secs(5), || async {
        keys.project("ea_old").is_none()
    })
    .await
    .expect("a revoked key stops resolving within 5 s");
    eprintln!("revocation took effect after {:?}", revoked_at.elapsed());
    assert_eq!(
        keys.project("ea_new"),
        Some(project),
        "the other key still works"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_large_batches_at_once_are_all_stored_without_waiting_on_each_other() {
    // Ten thousand events at once is over a project's default quota: this measures the acks.
    let (stack, js) = ingest_with_keys(&["ea_bulk"], |config| {
        config.quotas = ingest::QuotaConfig::unlimited();
    })
    .await;
    let ingest = stack.ingest();

    // Ten requests of 1000 events at once: 10 000 acks, twice what one NATS connection lets
    // wait at once. Each request must free its own slots rather than wait for the others'.
    const REQUESTS: usize = 10;
    const EVENTS: usize = 1000;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let sends = (0..REQUESTS).map(|request| {
        let batch: Vec<_> = (0..EVENTS)
            .map(|i| serde_json::json!({ "event": "bulk", "distinct_id": format!("u{request}-{i}") }))
            .collect();
        let body = serde_json::json!({ "api_key": "ea_bulk", "batch": batch }).to_string();
        let request = http.post(ingest.url("/batch/")).body(body).send();
        async move { request.await.map(|answer| answer.status().as_u16()) }
    });
    let codes: Vec<_> = futures_util::future::join_all(sends).await;
    let codes: Vec<u16> = codes
        .into_iter()
        .map(|code| code.expect("answered within 20 s"))
        .collect();
    assert_eq!(codes, [200; REQUESTS]);
    let mut events = js.get_stream("EVENTS").await.expect("stream");
    let stored = events.info().await.expect("info").state.messages;
    assert_eq!(stored, (REQUESTS * EVENTS) as u64);
}
