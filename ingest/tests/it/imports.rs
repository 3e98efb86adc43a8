//! An import job survives its ingest being killed: the ingest binary, signed in to NATS as
//! `ingest`, takes an upload and starts publishing it, is killed with SIGKILL part way, and the
//! next ingest takes the job over from its saved offset; the job ends done with every event
//! counted once, and ClickHouse holds each once. It survives a NATS outage too: the error it
//! meets lets it go, to be run again from its offset instead of failing.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use contract::auth::{AuthEvent, Role};
use devstack::nats::NatsUser;
use devstack::ports::free_port;
use devstack::process::{Options, Process};
use devstack::stack::{Service, TestStack};
use devstack::test::TempDir;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{access_token, prepared, publish, serve_jwks};

const EVENTS: usize = 100_000;

/// A Segment archive of `EVENTS` track calls.
fn segment_export() -> Vec<u8> {
    let mut text = String::with_capacity(EVENTS * 200);
    for i in 0..EVENTS {
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("killed-{i}").as_bytes());
        let line = serde_json::json!({"type": "track", "messageId": id, "event": "bought",
            "userId": format!("person-{}", i % 300), "timestamp": "2024-03-01T10:00:00Z"});
        let _ = writeln!(text, "{line}");
    }
    text.into_bytes()
}

/// `GET /api/imports/{id}` on the ingest at `port`: the job, or null.
async fn job(http: &reqwest::Client, port: u16, token: &str, id: &str) -> Value {
    let answer = http
        .get(format!("http://127.0.0.1:{port}/api/imports/{id}"))
        .bearer_auth(token)
        .send()
        .await;
    match answer {
        Ok(answer) if answer.status() == 200 => answer.json().await.unwrap_or_default(),
        _ => Value::Null,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_ingest_is_killed_is_finished_by_the_next_from_its_offset() {
    let keys = auth::signing::SigningKeys::from_seeds(&[[7; 32]]).expect("keys");
    let auth_url = serve_jwks(&keys).await;
    let in_stack = auth_url.clone();
    let (mut stack, js) = prepared(
        TestStack::builder()
            .clickhouse()
            .sink()
            .later(Service::Ingest)
            .configure_ingest(move |config| {
                config.auth = ingest::AuthConfig::at(in_stack.clone());
                config.imports.stale_after = Duration::from_secs(2);
            }),
    )
    .await;
    let project_id = Uuid::now_v7();
    let created = AuthEvent::ProjectCreated {
        project_id,
        name: "imported".to_owned(),
        timezone: "UTC".to_owned(),
        by: None,
        at: OffsetDateTime::now_utc(),
    };
    publish(&js, &created, project_id).await;
    stack.start_services().expect("the sink starts");
    let admin = access_token(&keys, Uuid::now_v7(), Role::Admin);

    // The first ingest, a process of its own, as ingest on NATS.
    let dir = TempDir::new("ingest-import").expect("dir");
    let port = free_port().expect("port");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ingest"));
    command
        .env("INGEST_PORT", port.to_string())
        .env("NATS_URL", stack.nats().url_for(NatsUser::Ingest))
        .env("AUTH_URL", &auth_url)
        // 100 000 events in 20 s: the kill lands part way for certain.
        .env("IMPORT_TEST_EVENTS_PER_SECOND", "5000")
        .env("RUST_LOG", "info");
    let log = dir.path().join("ingest.log");
    let mut first = Process::spawn("ingest", command, &log, Options::default()).expect("spawns");
    devstack::wait::until("ingest ready", Duration::from_secs(60), || {
        devstack::http::get(port, "/readyz", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    })
    .expect("ingest is ready");

    let http = reqwest::Client::new();
    let file = segment_export();
    let size = file.len() as u64;
    let answer = http
        .post(format!(
            "http://127.0.0.1:{port}/api/imports?project_id={project_id}&format=segment"
        ))
        .bearer_auth(&admin)
        .body(file)
        .send()
        .await
        .expect("uploads");
    assert_eq!(answer.status(), 202);
    let created: Value = answer.json().await.expect("a job");
    let id = created["id"].as_str().expect("an id").to_owned();
    devstack::wait::until_async(
        "the import is part way",
        Duration::from_secs(120),
        || async {
            job(&http, port, &admin, &id).await["bytes_read"]
                .as_u64()
                .unwrap_or(0)
                > 0
        },
    )
    .await
    .expect("the import runs");
    first.kill();

    // Left running, part way, as the killed ingest last saved it.
    let jobs = js
        .get_key_value(contract::imports::IMPORT_JOBS_BUCKET)
        .await
        .expect("the jobs bucket");
    let left: Value = serde_json::from_slice(
        &jobs
            .get(format!("{project_id}.{id}"))
            .await
            .expect("reads")
            .expect("the job"),
    )
    .expect("json");
    let at = left["bytes_read"].as_u64().expect("an offset");
    assert_eq!(left["state"], "running", "{left}");
    assert!(at > 0 && at < size, "killed part way: {left}");

    // The next ingest takes it over once the killed one's saves are stale.
    stack
        .start_service(Service::Ingest)
        .expect("another ingest");
    let port = stack.ingest().addr.port();
    devstack::wait::until_async("the import ends", Duration::from_secs(300), || async {
        matches!(
            job(&http, port, &admin, &id).await["state"].as_str(),
            Some("done" | "failed")
        )
    })
    .await
    .expect("the job ends");
    let done = job(&http, port, &admin, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        done["imported"], EVENTS as u64,
        "every event counted once: {done}"
    );
    assert_eq!(done["bytes_read"], size, "{done}");
    assert_eq!(
        done["started_at"], left["started_at"],
        "the same job, resumed"
    );

    devstack::wait::until(
        "ClickHouse holds every event",
        Duration::from_secs(180),
        || {
            stack
                .clickhouse_sql(&format!(
                    "SELECT count() FROM events WHERE project_id = '{project_id}'"
                ))
                .is_ok_and(|count| count.trim() == EVENTS.to_string())
        },
    )
    .expect("every event stored");
    // Stored once: no more arrive once the sink has taken every message.
    stack
        .sink_drained(Duration::from_secs(120))
        .await
        .expect("the sink drains the stream");
    let count = stack
        .clickhouse_sql(&format!(
            "SELECT count() FROM events WHERE project_id = '{project_id}'"
        ))
        .expect("count");
    assert_eq!(count.trim(), EVENTS.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_cut_off_by_a_nats_outage_is_run_again_from_its_offset_not_failed() {
    let keys = auth::signing::SigningKeys::from_seeds(&[[7; 32]]).expect("keys");
    let auth_url = serve_jwks(&keys).await;
    let (mut stack, js) = prepared(
        TestStack::builder()
            .clickhouse()
            .sink()
            .ingest()
            .configure_ingest(move |config| {
                config.auth = ingest::AuthConfig::at(auth_url.clone());
                // Never taken for abandoned here: only the job let go after its error runs on.
                config.imports.stale_after = Duration::from_secs(600);
                // 100 000 events in 20 s: the outage lands part way for certain.
                config.imports.events_per_second = Some(5_000);
            }),
    )
    .await;
    let project_id = Uuid::now_v7();
    let created = AuthEvent::ProjectCreated {
        project_id,
        name: "outage".to_owned(),
        timezone: "UTC".to_owned(),
        by: None,
        at: OffsetDateTime::now_utc(),
    };
    publish(&js, &created, project_id).await;
    stack.start_services().expect("ingest and the sink start");
    let admin = access_token(&keys, Uuid::now_v7(), Role::Admin);
    let port = stack.ingest().addr.port();
    let http = reqwest::Client::new();
    let file = segment_export();
    let size = file.len() as u64;
    let answer = http
        .post(format!(
            "http://127.0.0.1:{port}/api/imports?project_id={project_id}&format=segment"
        ))
        .bearer_auth(&admin)
        .body(file)
        .send()
        .await
        .expect("uploads");
    assert_eq!(answer.status(), 202);
    let created: Value = answer.json().await.expect("a job");
    let id = created["id"].as_str().expect("an id").to_owned();
    devstack::wait::until_async(
        "the import is part way",
        Duration::from_secs(120),
        || async {
            job(&http, port, &admin, &id).await["bytes_read"]
                .as_u64()
                .unwrap_or(0)
                > 0
        },
    )
    .await
    .expect("the import runs");

    // NATS stays away until the job is cut off: a short outage the client rides out (its
    // publishes wait in its buffer) would cut nothing.
    stack.nats_mut().server.process_mut().kill();
    devstack::wait::until_async(
        "the job is let go after its error",
        Duration::from_secs(120),
        || async {
            devstack::test::metric(
                stack.ingest(),
                r#"ingest_import_runs_total{outcome="released"}"#,
            )
            .is_some_and(|released| released >= 1.0)
        },
    )
    .await
    .expect("the outage cuts the job off");
    stack.nats_mut().server.restart().expect("nats restarts");

    devstack::wait::until_async("the import ends", Duration::from_secs(300), || async {
        matches!(
            job(&http, port, &admin, &id).await["state"].as_str(),
            Some("done" | "failed")
        )
    })
    .await
    .expect("the job ends");
    let done = job(&http, port, &admin, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        done["imported"], EVENTS as u64,
        "every event counted once: {done}"
    );
    assert_eq!(done["bytes_read"], size, "{done}");
    // It was let go after an error and run again, as the job keeps.
    let jobs = js
        .get_key_value(contract::imports::IMPORT_JOBS_BUCKET)
        .await
        .expect("the jobs bucket");
    let kept: Value = serde_json::from_slice(
        &jobs
            .get(format!("{project_id}.{id}"))
            .await
            .expect("reads")
            .expect("the job"),
    )
    .expect("json");
    assert!(kept["tries"].as_u64().unwrap_or(0) >= 1, "{kept}");
    devstack::wait::until(
        "ClickHouse holds every event",
        Duration::from_secs(180),
        || {
            stack
                .clickhouse_sql(&format!(
                    "SELECT count() FROM events WHERE project_id = '{project_id}'"
                ))
                .is_ok_and(|count| count.trim() == EVENTS.to_string())
        },
    )
    .expect("every event stored once");
}
