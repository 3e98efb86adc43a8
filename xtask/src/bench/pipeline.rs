//! The pipeline scenarios, run in a release build of xtask against release builds of the
//! services on a stack of their own: ingest (see `intake`), the sink (see `sink`), one replica
//! against two (see `scaling`), freshness, peak memory, the import (see `imports`), and hostile
//! bodies last.

use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use devstack::clickhouse::ClickHouse;
use devstack::hostile::HostileReport;
use devstack::nats::{NatsPasswords, NatsServer};
use devstack::ports::free_port;
use devstack::test::TempDir;
use uuid::Uuid;

use super::backpressure::Backpressure;
use super::freshness::{self, Freshness};
use super::imports::{self, ImportReport};
use super::intake::{self, IntakeReport, Plan, Target};
use super::scaling::{self, ScalingReport};
use super::send::KEY;
use super::services::{BenchAuth, READY, peak_rss_mib, start, start_edge};
use super::sink::{self, SinkReport};
use crate::launcher::{Running, Service};

const ADMIN: &str = "bench-admin@example.com";
const PASSWORD: &str = "benchmark password 123";

/// Everything the pipeline scenarios measure.
#[derive(Debug)]
pub(crate) struct PipelineReport {
    pub(crate) intake: IntakeReport,
    /// CPU µs per event while 100-event batches went through edge: edge, ingest, nats-server,
    /// the load generator.
    pub(crate) ingest_cpu_us: [f64; 4],
    /// The 503s and 429s of the load the sink then drains.
    pub(crate) fill_backpressure: Backpressure,
    pub(crate) sink: SinkReport,
    /// One ingest and one sink against two of each.
    pub(crate) scaling: ScalingReport,
    pub(crate) freshness: Freshness,
    /// Peak resident memory (VmHWM) of each service process over the whole pipeline run, MiB.
    pub(crate) peak_rss_mib: Vec<(&'static str, f64)>,
    /// `cargo xtask import` of each format, with the sink storing as it goes.
    pub(crate) import: ImportReport,
    /// Hostile bodies straight to ingest, after everything else (they reset its peak).
    pub(crate) hostile: HostileReport,
    pub(crate) nats_version: String,
    pub(crate) clickhouse_version: String,
}

/// NATS with the bundled streams and the bench's project, and auth, ingest and edge on it.
struct Stack {
    nats: NatsServer,
    js: jetstream::Context,
    project: Uuid,
    auth: BenchAuth,
    token: String,
    ingest: Running,
    ingest_port: u16,
    edge: Running,
    edge_port: u16,
    /// Where edge expects query, which starts only for freshness.
    query_port: u16,
}

impl Stack {
    async fn start(dir: &TempDir) -> anyhow::Result<Self> {
        let nats = NatsServer::start(
            &dir.path().join("nats-pipeline"),
            free_port()?,
            None,
            NatsPasswords::generate(),
        )?;
        let client = plumbing::streams::connect(nats.url()).await?;
        let js = jetstream::new(client);
        plumbing::streams::provision(&js, &plumbing::streams::Definitions::bundled()?).await?;
        let project = create_project(&js).await?;
        // Auth (for edge and query) first: it creates its key-value buckets at start, before
        // the raw stream reserves its share of JetStream storage.
        let auth = BenchAuth::start(
            &dir.path().join("pipeline-auth"),
            &nats.url(),
            &[("ADMIN_EMAIL", ADMIN), ("ADMIN_PASSWORD", PASSWORD)],
        )?;
        let token = access_token(auth.port).with_context(|| {
            devstack::process::log_tail(&dir.path().join("pipeline-auth/auth.log"), 20)
        })?;
        intake::create_raw_streams(&js).await?;
        let ingest_port = free_port()?;
        let ingest = start_ingest(dir, "ingest", ingest_port, &nats, auth.port)?;
        // The public door in front of ingest, and later of query (started for freshness).
        let (query_port, edge_port) = (free_port()?, free_port()?);
        let edge = start_edge(
            dir,
            "edge-pipeline",
            edge_port,
            auth.port,
            ingest_port,
            query_port,
        )?;
        Ok(Self {
            nats,
            js,
            project,
            auth,
            token,
            ingest,
            ingest_port,
            edge,
            edge_port,
            query_port,
        })
    }

    fn target(&self) -> Target<'_> {
        Target {
            js: &self.js,
            url: format!("http://127.0.0.1:{}/batch/", self.edge_port),
            direct: format!("http://127.0.0.1:{}/batch/", self.ingest_port),
            edge: &self.edge.process,
            ingest: &self.ingest.process,
            nats: self.nats.process(),
        }
    }
}

/// The release ingest on `port`, named `name`, on `nats`, with no intake quotas.
fn start_ingest(
    dir: &TempDir,
    name: &str,
    port: u16,
    nats: &NatsServer,
    auth_port: u16,
) -> anyhow::Result<Running> {
    let env = [
        ("INGEST_PORT", port.to_string()),
        ("NATS_URL", nats.url()),
        // Where ingest verifies the dashboard's tokens (`/api/events`, the hostile bodies).
        ("AUTH_URL", format!("http://127.0.0.1:{auth_port}")),
        // The bench measures capacity, not the intake quotas.
        ("PROJECT_EVENTS_PER_SECOND", "0".to_owned()),
        ("PROJECT_BYTES_PER_SECOND", "0".to_owned()),
    ];
    let ingest = Service::new("ingest")
        .name(name)
        .envs(&env)
        .ready_at(port, "/readyz", READY);
    start(dir.path(), ingest)
}

/// The scaling scenario (see `scaling`), with a second ingest started for it.
async fn scaling(
    quick: bool,
    dir: &TempDir,
    stack: &Stack,
    sink: &sink::Sink,
    clickhouse: &ClickHouse,
) -> anyhow::Result<ScalingReport> {
    let port = free_port()?;
    let mut second = start_ingest(dir, "ingest-2", port, &stack.nats, stack.auth.port)?;
    let urls = [stack.ingest_port, port].map(|port| format!("http://127.0.0.1:{port}/batch/"));
    let nats_peak = peak_rss_mib(stack.nats.process());
    let ingests = [urls[0].as_str(), urls[1].as_str()];
    let report = scaling::run(
        quick,
        dir.path(),
        &stack.js,
        clickhouse,
        ingests,
        sink,
        nats_peak,
    )
    .await;
    second.stop();
    report
}

/// The bench's project, with its write key, as auth would have published them.
async fn create_project(js: &jetstream::Context) -> anyhow::Result<Uuid> {
    let project = Uuid::now_v7();
    let at = time::OffsetDateTime::now_utc();
    for issued in [
        contract::auth::AuthEvent::ProjectCreated {
            project_id: project,
            name: "Bench".to_owned(),
            timezone: "UTC".to_owned(),
            by: None,
            at,
        },
        contract::auth::AuthEvent::WriteKeyIssued {
            by: None,
            project_id: project,
            key_id: Uuid::now_v7(),
            key: KEY.to_owned(),
            at,
        },
    ] {
        js.publish(
            contract::auth::project_subject(project),
            serde_json::to_vec(&issued)?.into(),
        )
        .await?
        .await?;
    }
    Ok(project)
}

/// The first admin's access token from auth on `port`.
fn access_token(port: u16) -> anyhow::Result<String> {
    devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(60))
}

/// The scenarios in order: ingest, the sink, freshness, the import, then hostile bodies.
pub(crate) async fn run(quick: bool, dir: &TempDir) -> anyhow::Result<PipelineReport> {
    let mut stack = Stack::start(dir).await?;
    let plan = Plan::new(quick);
    let intake = intake::run(plan, &stack.target()).await?;
    let (rows, ingest_cpu_us, fill_backpressure) =
        intake::fill_for_sink(plan, &stack.target()).await?;
    // The sink drains what ingest stored, into a fresh ClickHouse.
    let (sink, clickhouse, sink_launch) = sink::run(dir, &stack.js, &stack.nats, rows).await?;
    // One replica against two, of ingest and of the sink, into the same ClickHouse.
    let scaling = scaling(quick, dir, &stack, &sink_launch, &clickhouse).await?;
    // Freshness: the whole pipeline at once, the query API polled through edge.
    let mut sink_process = sink_launch.start(dir.path())?;
    let mut query = start_query(dir, &stack, &clickhouse)?;
    let fresh_rate = if quick { 2_000.0 } else { 5_000.0 };
    let freshness = freshness::measure(
        &stack.target().url,
        &format!("http://127.0.0.1:{}", stack.edge_port),
        &stack.token,
        stack.project,
        fresh_rate,
        Duration::from_secs(if quick { 8 } else { 15 }),
    )
    .await?;
    eprintln!(
        "freshness at {fresh_rate:.0} events/s: p50 {:.0} ms, p99 {:.0} ms",
        freshness.p50_ms, freshness.p99_ms
    );
    let peak_rss = vec![
        ("edge", peak_rss_mib(&stack.edge.process)),
        ("ingest", peak_rss_mib(&stack.ingest.process)),
        ("nats-server", peak_rss_mib(stack.nats.process())),
        (
            "sink",
            sink.peak_rss_mib.max(peak_rss_mib(&sink_process.process)),
        ),
        ("ClickHouse", peak_rss_mib(clickhouse.process())),
        ("query", peak_rss_mib(&query.process)),
        ("auth", peak_rss_mib(&stack.auth.service.process)),
    ];
    let (nats_version, clickhouse_version) = versions(&clickhouse);
    // After the peak memory is read: the import's load is not what those figures are about.
    let import = imports::run(quick, dir.path(), &stack.nats, &clickhouse).await?;
    let hostile = hostile_bodies(&stack)?;
    for process in [
        &mut sink_process,
        &mut query,
        &mut stack.edge,
        &mut stack.ingest,
        &mut stack.auth.service,
    ] {
        process.stop();
    }
    Ok(PipelineReport {
        intake,
        ingest_cpu_us,
        fill_backpressure,
        sink,
        scaling,
        freshness,
        peak_rss_mib: peak_rss,
        import,
        hostile,
        nats_version,
        clickhouse_version,
    })
}

/// The release query on the port edge expects it, over the sink's ClickHouse.
fn start_query(dir: &TempDir, stack: &Stack, clickhouse: &ClickHouse) -> anyhow::Result<Running> {
    let env = [
        ("QUERY_PORT", stack.query_port.to_string()),
        ("NATS_URL", stack.nats.url()),
        ("CLICKHOUSE_PORT", clickhouse.http_port().to_string()),
        ("CLICKHOUSE_DB", "bench".to_owned()),
        ("AUTH_URL", format!("http://127.0.0.1:{}", stack.auth.port)),
    ];
    let query = Service::new("query")
        .name("query-pipeline")
        .envs(&env)
        .ready_at(stack.query_port, "/readyz", READY);
    start(dir.path(), query)
}

/// The versions of nats-server and ClickHouse, for the report's machine facts.
fn versions(clickhouse: &ClickHouse) -> (String, String) {
    let nats_version = devstack::install::locate()
        .nats_server
        .and_then(|bin| Command::new(bin).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let clickhouse_version = clickhouse
        .query("SELECT version()")
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    (nats_version, clickhouse_version)
}

/// Hostile bodies straight to ingest, its peak memory read around each.
fn hostile_bodies(stack: &Stack) -> anyhow::Result<HostileReport> {
    eprintln!("ingest: hostile bodies, its peak memory read around each");
    let token = access_token(stack.auth.port)?;
    let hostile = devstack::hostile::measure(
        stack.ingest_port,
        stack.ingest.process.pid(),
        &token,
        contract::event::MAX_DECODED_REQUEST_BYTES,
    )?;
    eprintln!(
        "ingest: hostile bodies: worst peak growth {:.1} MiB for one, {:.1} MiB for eight at once",
        hostile.worst_single_mib(),
        hostile.eight_at_once_mib()
    );
    Ok(hostile)
}
