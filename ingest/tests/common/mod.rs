//! What the ingest tests share: NATS with the bundled streams, auth events published as auth
//! does, and a ready ingest in front of them.

#![allow(dead_code)]

use async_nats::jetstream;
use contract::auth::{AuthEvent, project_subject};
use devstack::test::{ServiceHandle, TestNats};
use plumbing::streams::{Definitions, provision};
use uuid::Uuid;

/// Publishes `event` of `project_id` on the `AUTH` stream and waits for it to be stored.
pub async fn publish(js: &jetstream::Context, event: &AuthEvent, project_id: Uuid) {
    js.publish(
        project_subject(project_id),
        serde_json::to_vec(event).expect("json").into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("stored");
}

/// A NATS server with the bundled streams.
pub async fn nats_with_streams() -> (TestNats, jetstream::Context) {
    let nats = TestNats::start().expect("nats starts");
    let js = jetstream::new(
        plumbing::streams::connect(nats.url())
            .await
            .expect("connects"),
    );
    provision(&js, &Definitions::bundled().expect("definitions"))
        .await
        .expect("provisioned");
    (nats, js)
}

/// A ready ingest on NATS `nats`, its config changed by `configure` (auth is not reachable:
/// these tests send no bearer token).
pub fn start_ingest(nats: &TestNats, configure: impl FnOnce(&mut ingest::Config)) -> ServiceHandle {
    let mut config = ingest::Config::new(
        plumbing::config::HttpConfig::ephemeral(),
        plumbing::config::NatsConfig { url: nats.url() },
        ingest::AuthConfig::at("http://127.0.0.1:9".to_owned()),
    );
    configure(&mut config);
    let ingest = devstack::test::spawn_service("ingest", move |listener, shutdown| {
        ingest::run(config, listener, shutdown)
    })
    .expect("ingest starts");
    devstack::test::wait_for_readiness(&ingest, 200).expect("ready");
    ingest
}
