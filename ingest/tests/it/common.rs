//! What the ingest tests share: NATS with the bundled streams, auth events published as auth
//! does, a ready ingest in front of them, and auth's keys served for dashboard tokens.

use async_nats::jetstream;
use contract::auth::{AuthEvent, project_subject};
use devstack::test::{ServiceHandle, TestNats};
use plumbing::streams::{Definitions, provision};
use uuid::Uuid;

/// Publishes `event` of `project_id` on the `AUTH` stream and waits for it to be stored.
pub(crate) async fn publish(js: &jetstream::Context, event: &AuthEvent, project_id: Uuid) {
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
pub(crate) async fn nats_with_streams() -> (TestNats, jetstream::Context) {
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
pub(crate) fn start_ingest(
    nats: &TestNats,
    configure: impl FnOnce(&mut ingest::Config),
) -> ServiceHandle {
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

/// A JWKS endpoint on a free port for `keys`, served until the test ends: ingest's `AUTH_URL`.
pub(crate) async fn serve_jwks(keys: &auth::signing::SigningKeys) -> String {
    let jwks = serde_json::to_string(keys.jwks()).expect("json");
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { ([("content-type", "application/json")], jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// An hour's access token of `user` with `role`, signed as auth signs them with `keys`.
pub(crate) fn access_token(
    keys: &auth::signing::SigningKeys,
    user: Uuid,
    role: contract::auth::Role,
) -> String {
    let settings = auth::tokens::TokenSettings {
        issuer: "event-analytics".to_owned(),
        audience: "event-analytics".to_owned(),
        access_ttl_secs: 3600,
        refresh_ttl_secs: 0,
    };
    auth::tokens::issue_access(keys, &settings, user, role).expect("token")
}
