//! The ingest-side write key map follows the `AUTH` stream: keys issued before ingest started are
//! known once it is ready, and a revoked key stops resolving within 5 seconds.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use contract::auth::{AuthEvent, project_subject};
use devstack::test::TestNats;
use plumbing::projects::Projects;
use plumbing::streams::{Definitions, provision};
use time::OffsetDateTime;
use uuid::Uuid;

async fn publish(js: &jetstream::Context, event: &AuthEvent, project_id: Uuid) {
    js.publish(
        project_subject(project_id),
        serde_json::to_vec(event).expect("json").into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("stored");
}

fn issued(project_id: Uuid, key_id: Uuid, key: &str) -> AuthEvent {
    AuthEvent::WriteKeyIssued {
        project_id,
        key_id,
        key: key.to_owned(),
        at: OffsetDateTime::now_utc(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_replay_at_start_and_a_revoked_key_stops_resolving_within_five_seconds() {
    let nats = TestNats::start().expect("nats starts");
    let js = jetstream::new(async_nats::connect(nats.url()).await.expect("connects"));
    provision(&js, &Definitions::bundled().expect("definitions"))
        .await
        .expect("provisioned");

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
