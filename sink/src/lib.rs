//! The sink: a durable JetStream consumer that stores events in ClickHouse, acking each message
//! only after the insert that holds it succeeded.

mod batch;
mod consumer;
pub mod dlq;
pub mod erasure;
mod metrics;
mod months;
pub mod persons;
mod recent;
mod refusals;
pub mod replay;
pub mod retention;
pub mod row;
pub mod schema;
mod sessions;
mod stored;
mod table;
mod writer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use plumbing::config::{ClickHouseConfig, ConfigError, HttpConfig, NatsConfig};
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use tokio::net::TcpListener;

pub use crate::batch::BatchSettings;
use crate::metrics::{SinkCounters, StreamGauges};

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "sink";

/// Everything the sink reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener for health and metrics (`SINK_PORT`, default 8004).
    pub http: HttpConfig,
    /// JetStream server.
    pub nats: NatsConfig,
    /// Where events are stored.
    pub clickhouse: ClickHouseConfig,
    /// Batching (`SINK_BATCH_SIZE`, `SINK_BATCH_WAIT_MS`).
    pub batch: BatchSettings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("SINK_PORT", 8004)?,
            nats: NatsConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
            batch: BatchSettings {
                max_messages: plumbing::config::var_or("SINK_BATCH_SIZE", 20_000)?,
                max_wait_ms: plumbing::config::var_or("SINK_BATCH_WAIT_MS", 200)?,
                ..BatchSettings::default()
            },
        })
    }
}

/// The client the sink (and `sink replay`) writes events with. On a cluster it inserts into the
/// `Distributed` table with `insert_distributed_sync = 1` (so named on 18.16; an alias of
/// `distributed_foreground_insert` today): the insert returns only once every row is written
/// on its shard, so an ack still means the event is stored. Without it the `Distributed` table
/// would queue rows on the local disk and answer at once, and an ack would stand for a copy in
/// that queue. Writing to the shards' local tables directly would spare that hop, but the sink
/// would then need the cluster's layout and sharding itself; the `Distributed` table already
/// knows both, and a server of the cluster is all the sink is told about.
///
/// `load_balancing = 'in_order'`: of a shard's healthy replicas, the insert writes to the first
/// and every read the sink makes (the look for rows already stored, before redelivered,
/// imported or late rows are written; the sessions' lookup) asks that same first one, so it
/// finds what the sink just wrote there without waiting for replication. With ClickHouse's default
/// (`random`) a lookup could ask a replica the row had not reached yet, and store it twice.
pub fn clickhouse_client(config: &ClickHouseConfig) -> clickhouse::Client {
    let client = plumbing::clickhouse::client(config);
    if config.cluster.is_some() {
        client
            .with_setting("insert_distributed_sync", "1")
            .with_setting("load_balancing", "in_order")
    } else {
        client
    }
}

/// Applies the schema in the background, retrying until ClickHouse takes it; done once the
/// table exists.
fn apply_schema(config: &ClickHouseConfig) -> anyhow::Result<plumbing::startup::Done> {
    let layout = schema::Layout::of(config)?;
    let config = config.clone();
    Ok(plumbing::startup::spawn_until_ok(
        "clickhouse schema",
        move || {
            let config = config.clone();
            let layout = layout.clone();
            async move {
                schema::apply_layout(&plumbing::clickhouse::server_client(&config), &layout).await
            }
        },
    ))
}

/// Starts the persons' consumer (identity links and erasures, once the schema is applied) and
/// gives what the events' writer follows of it: the erased persons and the persons' mapping.
fn follow_persons(
    config: &Config,
    js: &async_nats::jetstream::Context,
    clickhouse: &clickhouse::Client,
    schema_ready: &plumbing::startup::Done,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, writer::Following)> {
    let person_keys = persons::PersonKeys::new(clickhouse.clone());
    let (arrivals, eraser) = erasure::start(
        js,
        clickhouse,
        schema::Layout::of(&config.clickhouse)?,
        person_keys.clone(),
        config.nats.replicas,
        stopped.clone(),
    );
    let linking = tokio::spawn(persons::consumer::run_when(
        schema_ready.clone(),
        js.clone(),
        clickhouse.clone(),
        person_keys.clone(),
        eraser,
        stopped.clone(),
    ));
    let following = writer::Following {
        arrivals,
        persons: person_keys,
    };
    Ok((linking, following))
}

/// Runs the sink until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let counters = SinkCounters::default();
    counters.register(&metrics);
    let stream_gauges = StreamGauges::default();
    stream_gauges.register(&metrics);
    let jetstream = JetStream::start(
        &config.nats.url,
        SERVICE,
        Definitions::for_service(plumbing::streams::Service::Sink, config.nats.replicas)?,
    )
    .await?;
    tokio::spawn(stream_gauges.follow(jetstream.context.clone()));
    let clickhouse = clickhouse_client(&config.clickhouse);
    let schema_ready = apply_schema(&config.clickhouse)?;
    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check(
            "clickhouse",
            plumbing::clickhouse::readiness_check(clickhouse.clone(), Some(schema_ready.clone())),
        );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (linking, following) = follow_persons(
        &config,
        &jetstream.context,
        &clickhouse,
        &schema_ready,
        &stopped,
    )?;
    let consuming = tokio::spawn({
        let js = jetstream.context.clone();
        let clickhouse = clickhouse.clone();
        let schema_ready = schema_ready.clone();
        let batch = config.batch.clone();
        async move {
            // Insert only once the table exists.
            while !schema_ready.is_done() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            consumer::run(js, clickhouse, batch, counters, stopped, following).await;
        }
    });
    plumbing::http::run_service(
        listener,
        Router::new(),
        health,
        metrics,
        &config.http,
        async move {
            shutdown.await;
            let _ = stop.send(true);
        },
    )
    .await?;
    // The batch in flight is inserted and acked before we exit, and the link in hand applied.
    if tokio::time::timeout(Duration::from_secs(30), async {
        let _ = tokio::join!(consuming, linking);
    })
    .await
    .is_err()
    {
        tracing::warn!("sink consumer did not finish within 30 s");
    }
    Ok(())
}
