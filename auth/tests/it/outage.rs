//! Auth through outages: PostgreSQL stopped and started again, and the auth process killed with
//! SIGKILL while the projector is busy. Afterwards every event on the stream is in the
//! projection exactly once.

use std::process::Command;
use std::time::Duration;

use async_nats::jetstream;
use contract::auth::AuthEvent;
use devstack::ports::free_port;
use devstack::process::{Options, Process};
use devstack::stack::{Fault, TestStack};
use devstack::test::{TempDir, wait_for_readiness};
use plumbing::config::PostgresConfig;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::PASSWORD;

async fn publish_failures(js: &jetstream::Context, user_id: Uuid, count: usize) {
    for _ in 0..count {
        let event = AuthEvent::LoginFailed {
            user_id,
            at: OffsetDateTime::now_utc(),
        };
        js.publish(
            contract::auth::login_subject(user_id),
            serde_json::to_vec(&event).expect("json").into(),
        )
        .await
        .expect("publishes")
        .await
        .expect("stored");
    }
}

/// `failed_logins` computed independently of the projector: by reading the stream.
async fn failures_on_stream(js: &jetstream::Context, user_id: Uuid) -> u64 {
    let stream = js.get_stream("AUTH").await.expect("stream");
    let subject = contract::auth::login_subject(user_id);
    let (mut sequence, mut count) = (0, 0);
    while let Ok(message) = stream
        .direct_get_next_for_subject(subject.as_str(), Some(sequence + 1))
        .await
    {
        sequence = message.sequence;
        if matches!(
            serde_json::from_slice(&message.payload),
            Ok(AuthEvent::LoginFailed { .. })
        ) {
            count += 1;
        }
    }
    count
}

async fn last_sequence(js: &jetstream::Context) -> u64 {
    let mut stream = js.get_stream("AUTH").await.expect("stream");
    stream.info().await.expect("info").state.last_sequence
}

fn post(port: u16, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = devstack::http::request(
        port,
        "POST",
        path,
        Some("application/json"),
        body.to_string().as_bytes(),
        Duration::from_secs(30),
    )
    .expect("auth answers");
    (
        response.status,
        serde_json::from_str(&response.body).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn with_postgres_down_auth_is_unready_and_commands_503_then_everything_is_projected() {
    let mut stack = TestStack::builder()
        .configure_auth(|config| {
            config.first_admin = None;
            config.projection_timeout_ms = 2_000;
        })
        .fault(Fault::PostgresOutage)
        .start()
        .expect("auth starts");
    let port = stack.auth().addr.port();
    let (status, alice) = post(
        port,
        "/api/auth/register",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    );
    assert_eq!(status, 201, "{alice}");
    let alice_id: Uuid = alice["id"].as_str().expect("id").parse().expect("uuid");

    stack.stop_postgres().expect("postgres stops");
    let unready = wait_for_readiness(stack.auth(), 503).expect("unready");
    assert_eq!(unready["checks"]["postgres"], "down", "{unready}");
    let (status, body) = post(
        port,
        "/api/auth/register",
        json!({ "email": "bob@example.com", "password": PASSWORD }),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    let (status, _) = post(
        port,
        "/api/auth/login",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    );
    assert_eq!(status, 503);

    // Events keep arriving on the stream (other replicas) while Postgres is down.
    let js = jetstream::new(
        plumbing::streams::connect(stack.nats().url())
            .await
            .expect("nats"),
    );
    publish_failures(&js, alice_id, 7).await;

    stack.restart_postgres().expect("postgres restarts");
    wait_for_readiness(stack.auth(), 200).expect("ready again");
    let expected = failures_on_stream(&js, alice_id).await;
    assert_eq!(expected, 7);
    devstack::wait::until_async(
        "the backlog to be projected",
        Duration::from_secs(30),
        || async {
            let (server, db) = stack.postgres();
            server
                .psql_in(db, "SELECT failed_logins FROM users")
                .is_ok_and(|n| n.trim() == expected.to_string())
        },
    )
    .await
    .expect("everything published is projected");
    let (status, _) = post(
        port,
        "/api/auth/register",
        json!({ "email": "bob@example.com", "password": PASSWORD }),
    );
    assert_eq!(
        status, 201,
        "the email was never claimed by the refused attempt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_auth_mid_projection_applies_nothing_twice() {
    let stack = TestStack::builder()
        .nats()
        .postgres()
        .start()
        .expect("nats and postgres start");
    let (server, db) = stack.postgres();
    let dir = TempDir::new("auth-kill").expect("dir");
    let port = free_port().expect("port");
    let key = auth::signing::generate_line().expect("key");
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_auth"));
        command
            .env("AUTH_PORT", port.to_string())
            .env("NATS_URL", stack.nats().url())
            .env("POSTGRES_PORT", server.port().to_string())
            .env("POSTGRES_DB", db)
            .env("POSTGRES_PASSWORD", server.password())
            .env("AUTH_SIGNING_KEYS", &key)
            .env("RUST_LOG", "warn");
        let mut process = Process::spawn(
            "auth",
            command,
            &dir.path().join("auth.log"),
            Options::default(),
        )
        .expect("auth starts");
        process
            .wait_ready(
                "auth /readyz",
                Duration::from_secs(60),
                &dir.path().join("auth.log"),
                || {
                    devstack::http::get(port, "/readyz", Duration::from_secs(2))
                        .is_ok_and(|r| r.status == 200)
                },
            )
            .expect("auth ready");
        process
    };
    let mut auth = start();
    let (status, user) = post(
        port,
        "/api/auth/register",
        json!({ "email": "kim@example.com", "password": PASSWORD }),
    );
    assert_eq!(status, 201, "{user}");
    let user_id: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");

    let js = jetstream::new(
        plumbing::streams::connect(stack.nats().url())
            .await
            .expect("nats"),
    );
    publish_failures(&js, user_id, 1000).await;
    let projected = || {
        server
            .psql_in(db, "SELECT failed_logins FROM users")
            .ok()
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    devstack::wait::until_async(
        "the projector to be busy",
        Duration::from_secs(30),
        || async { projected() > 20 },
    )
    .await
    .expect("projecting");
    auth.kill();
    let at_kill = projected();
    assert!(at_kill < 1000, "killed mid-way ({at_kill} applied)");

    let _auth = start();
    let last = last_sequence(&js).await;
    let pool = auth::pool(&PostgresConfig::local(server.port(), db, server.password()));
    devstack::wait::until_async(
        "the projection to catch up",
        Duration::from_secs(60),
        || async {
            auth::projector::last_applied(&pool)
                .await
                .is_ok_and(|l| l >= last)
        },
    )
    .await
    .expect("caught up");
    let expected = failures_on_stream(&js, user_id).await;
    assert_eq!(expected, 1000);
    assert_eq!(
        projected(),
        expected,
        "each event applied exactly once (killed at {at_kill})"
    );
}
