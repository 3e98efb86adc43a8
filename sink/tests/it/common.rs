//! Shared by the sink's pipeline and fault tests: ingest and the sink in a
//! `devstack::stack::TestStack`, the calls the tests make to them, and a project write key
//! published the way auth publishes it.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use contract::auth::AuthEvent;
use devstack::process::{Options, Process};
use devstack::stack::{Builder, TestStack};
use devstack::test::{ServiceHandle, TestNats};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

pub const KEY: &str = "ea_pipeline_test_key";

/// Provisions the streams on `nats` and publishes a write key for `project` the way auth does
/// when an admin creates a project.
pub async fn prepare_streams(nats: &TestNats, project: Uuid, key: &str) -> jetstream::Context {
    let js = jetstream::new(plumbing::streams::connect(nats.url()).await.expect("nats"));
    plumbing::streams::provision(
        &js,
        &plumbing::streams::Definitions::bundled().expect("defs"),
    )
    .await
    .expect("provisioned");
    publish_project(&js, project, key).await;
    js
}

/// Publishes `project` and its write `key` the way auth does when an admin creates a project.
pub async fn publish_project(js: &jetstream::Context, project: Uuid, key: &str) {
    let created = AuthEvent::ProjectCreated {
        project_id: project,
        name: "Test".to_owned(),
        timezone: "UTC".to_owned(),
        by: None,
        at: time::OffsetDateTime::now_utc(),
    };
    let issued = AuthEvent::WriteKeyIssued {
        by: None,
        project_id: project,
        key_id: Uuid::now_v7(),
        key: key.to_owned(),
        at: time::OffsetDateTime::now_utc(),
    };
    for event in [created, issued] {
        js.publish(
            contract::auth::project_subject(project),
            serde_json::to_vec(&event).expect("json").into(),
        )
        .await
        .expect("publishes")
        .await
        .expect("stored");
    }
}

/// Ingest (without a quota: the load and fault tests here measure the pipeline, not the
/// per-project quota, which ingest's own tests do) and the sink, on a project with [`KEY`].
pub struct Pipeline {
    pub stack: TestStack,
    pub project: Uuid,
    pub http: reqwest::Client,
}

impl Pipeline {
    pub async fn start() -> Self {
        Self::start_with(true).await
    }

    /// With the sink in this process, or without a sink (the test runs the binary).
    pub async fn start_with(in_process_sink: bool) -> Self {
        let builder = TestStack::builder();
        Self::start_on(if in_process_sink {
            builder.sink()
        } else {
            builder
        })
        .await
    }

    /// Ingest and what else `builder` names (services it leaves for later, say).
    pub async fn start_on(builder: Builder) -> Self {
        let mut stack = builder
            .configure_ingest(|config| config.quotas = ingest::QuotaConfig::unlimited())
            .clickhouse()
            .start_servers()
            .expect("servers start");
        let project = Uuid::now_v7();
        prepare_streams(stack.nats(), project, KEY).await;
        stack.start_services().expect("the services start");
        Self {
            stack,
            project,
            http: reqwest::Client::new(),
        }
    }

    pub fn ingest(&self) -> &ServiceHandle {
        self.stack.ingest()
    }

    pub async fn send(&self, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.ingest().url(path))
            .header("content-type", "text/plain")
            .header("origin", "https://shop.example")
            .body(body)
            .send()
            .await
            .expect("ingest answers");
        let status = response.status();
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some("https://shop.example"),
            "CORS mirrors the origin"
        );
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `query`, or `None` while the database does not exist yet.
    pub fn try_query(&self, sql: &str) -> Option<String> {
        let (server, db) = self.stack.clickhouse();
        server
            .query(&sql.replace("{db}", db))
            .ok()
            .map(|text| text.trim().to_owned())
    }

    pub fn query(&self, sql: &str) -> String {
        let (server, db) = self.stack.clickhouse();
        server
            .query(&sql.replace("{db}", db))
            .expect("query")
            .trim()
            .to_owned()
    }

    pub async fn wait_for_rows(&self, expected: u64) {
        devstack::wait::until_async(
            &format!("{expected} rows in ClickHouse"),
            Duration::from_secs(30),
            || async {
                self.query("SELECT count() FROM {db}.events FINAL") == expected.to_string()
            },
        )
        .await
        .unwrap_or_else(|err| {
            panic!(
                "{err}; rows: {}",
                self.query("SELECT count() FROM {db}.events")
            )
        });
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("writes");
    encoder.finish().expect("finishes")
}

pub use devstack::test::metric;

/// Sends `batches` PostHog batches of [`BATCH_SIZE`] fresh events to `url` (ingest's or edge's
/// `/batch/`), retrying a batch (same event ids, as an SDK does) until it is answered 200;
/// any answer but 200 and the `retryable` ones fails the test. Returns how many answers were
/// not 200.
pub async fn send_until_accepted(
    http: reqwest::Client,
    url: String,
    batches: std::ops::Range<usize>,
    accepted: Arc<AtomicUsize>,
    retryable: &[StatusCode],
) -> usize {
    let mut refusals = 0;
    for batch in batches {
        let events: Vec<_> = (0..BATCH_SIZE)
            .map(|i| json!({ "uuid": Uuid::now_v7().to_string(), "event": "load", "distinct_id": format!("u{i}"), "properties": { "batch": batch } }))
            .collect();
        let body = json!({ "api_key": KEY, "batch": events }).to_string();
        loop {
            match http.post(&url).body(body.clone()).send().await {
                Ok(response) if response.status() == StatusCode::OK => {
                    accepted.fetch_add(BATCH_SIZE, Ordering::SeqCst);
                    break;
                }
                Ok(response) => {
                    assert!(
                        retryable.contains(&response.status()),
                        "batch {batch} answered {}",
                        response.status()
                    );
                    refusals += 1;
                }
                Err(_) => refusals += 1,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    refusals
}

/// Events per batch [`send_until_accepted`] sends.
pub const BATCH_SIZE: usize = 100;

/// The sink binary as a process of the test's own (for a test that kills it), on `port`, with
/// `env` (NATS and ClickHouse), logging to `log`; waits up to `ready_within` for `/readyz`.
pub fn sink_process(
    log: &std::path::Path,
    port: u16,
    env: &[(&str, String)],
    ready_within: Duration,
) -> Process {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sink"));
    command
        .env("SINK_PORT", port.to_string())
        .env("SINK_BATCH_SIZE", "2000")
        .env("SINK_BATCH_WAIT_MS", "100")
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(name, value)| (*name, value)));
    let mut sink = Process::spawn("sink", command, log, Options::default()).expect("sink starts");
    sink.wait_ready("sink /readyz", ready_within, log, || {
        devstack::http::get(port, "/readyz", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    })
    .expect("sink ready");
    sink
}
