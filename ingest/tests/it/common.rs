//! What the ingest tests share on top of `devstack::stack::TestStack`: the stack's streams,
//! prepared before ingest starts; auth events published as auth does; and auth's keys served
//! for dashboard tokens the tests sign themselves.

use async_nats::jetstream;
use contract::auth::{AuthEvent, project_subject};
use devstack::stack::{Builder, TestStack};
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

/// The servers of the stack `builder` names, with the bundled streams on its NATS, and the
/// operator's JetStream there: the test publishes auth's events before the services start
/// (`stack.start_services()`), and reads what ingest stored.
pub(crate) async fn prepared(builder: Builder) -> (TestStack, jetstream::Context) {
    let stack = builder.start_servers().expect("servers start");
    let js = jetstream::new(
        plumbing::streams::connect(stack.nats().url())
            .await
            .expect("connects"),
    );
    provision(&js, &Definitions::bundled().expect("definitions"))
        .await
        .expect("provisioned");
    (stack, js)
}

/// A JWKS endpoint on a free port for `keys`, served until the test ends: auth's URL for the
/// tests that sign their users' tokens themselves (they need auth's keys, not auth, whose
/// PostgreSQL would double the suite's time).
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
