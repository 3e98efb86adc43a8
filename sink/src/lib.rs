//! The sink: a durable JetStream consumer that stores events in ClickHouse, acking each message
//! only after the insert that holds it succeeded.

pub mod consumer;
pub mod dlq;
mod months;
mod refusals;
pub mod replay;
pub mod retention;
pub mod schema;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use plumbing::config::{ClickHouseConfig, ConfigError, HttpConfig, NatsConfig};
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::streams::{Definitions, JetStream};
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;

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
    pub batch: consumer::BatchSettings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env("SINK_PORT", 8004)?,
            nats: NatsConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
            batch: consumer::BatchSettings {
                max_messages: plumbing::config::var_or("SINK_BATCH_SIZE", 20_000)?,
                max_wait_ms: plumbing::config::var_or("SINK_BATCH_WAIT_MS", 200)?,
                ..consumer::BatchSettings::default()
            },
        })
    }
}

/// What the operator watches on the streams, read from JetStream every few seconds.
#[derive(Debug, Clone, Default)]
struct StreamGauges {
    /// Messages of `EVENTS` the sink's consumer has not been given yet.
    pending: Gauge,
    /// Messages given to the sink and not acked yet.
    ack_pending: Gauge,
    /// Messages given more than once and not acked yet.
    redelivered: Gauge,
    /// Messages in `EVENTS_DLQ`.
    dlq: Gauge,
}

impl StreamGauges {
    fn register(&self, metrics: &Metrics) {
        for (name, help, gauge) in [
            (
                "consumer_pending",
                "Messages of EVENTS the sink has not been given yet",
                &self.pending,
            ),
            (
                "consumer_ack_pending",
                "Messages given to the sink and not acked yet",
                &self.ack_pending,
            ),
            (
                "consumer_redelivered",
                "Messages given more than once and not acked yet",
                &self.redelivered,
            ),
            ("dlq_messages", "Messages in EVENTS_DLQ", &self.dlq),
        ] {
            metrics.register(name, help, gauge.clone());
        }
    }

    /// Reads the consumer and the DLQ every 5 s, for the life of the process.
    async fn follow(self, js: async_nats::jetstream::Context) {
        let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        loop {
            if let Ok(mut consumer) = js
                .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                    contract::streams::SINK_CONSUMER,
                    contract::streams::EVENTS_STREAM,
                )
                .await
                && let Ok(info) = consumer.info().await
            {
                self.pending.set(as_gauge(info.num_pending));
                self.ack_pending.set(as_gauge(info.num_ack_pending as u64));
                self.redelivered.set(as_gauge(info.num_redelivered as u64));
            }
            if let Ok(mut dlq) = js.get_stream(contract::streams::EVENTS_DLQ_STREAM).await
                && let Ok(info) = dlq.info().await
            {
                self.dlq.set(as_gauge(info.state.messages));
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
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
pub fn clickhouse_client(config: &ClickHouseConfig) -> clickhouse::Client {
    let client = plumbing::clickhouse::client(config);
    if config.cluster.is_some() {
        client.with_setting("insert_distributed_sync", "1")
    } else {
        client
    }
}

/// Runs the sink until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(SERVICE));
    let counters = consumer::SinkCounters::default();
    metrics.register(
        "rows_inserted",
        "Rows inserted into ClickHouse",
        counters.rows_inserted.clone(),
    );
    metrics.register(
        "dead_lettered",
        "Events moved to EVENTS_DLQ",
        counters.dead_lettered.clone(),
    );
    metrics.register(
        "insert_failures",
        "Batch inserts ClickHouse refused or did not confirm",
        counters.insert_failures.clone(),
    );
    metrics.register(
        "already_stored",
        "Redelivered events found already stored and acked without a second write",
        counters.already_stored.clone(),
    );
    metrics.register(
        "batch_rows",
        "Rows per successful ClickHouse INSERT",
        counters.batch_rows.clone(),
    );
    metrics.register(
        "insert_seconds",
        "Time to write one batch, lookup included, until ClickHouse confirmed",
        counters.insert_seconds.clone(),
    );
    let stream_gauges = StreamGauges::default();
    stream_gauges.register(&metrics);
    let jetstream = JetStream::start(
        &config.nats.url,
        SERVICE,
        Definitions::for_service(plumbing::streams::Service::Sink)?,
    )
    .await?;
    tokio::spawn(stream_gauges.follow(jetstream.context.clone()));
    let clickhouse = clickhouse_client(&config.clickhouse);
    let layout = schema::Layout::of(&config.clickhouse)?;
    let schema_ready = plumbing::startup::spawn_until_ok("clickhouse schema", {
        let config = config.clickhouse.clone();
        move || {
            let config = config.clone();
            let layout = layout.clone();
            async move {
                schema::apply_layout(&plumbing::clickhouse::server_client(&config), &layout).await
            }
        }
    });

    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check(
            "clickhouse",
            plumbing::clickhouse::readiness_check(clickhouse.clone(), Some(schema_ready.clone())),
        );
    let (stop, stopped) = tokio::sync::watch::channel(false);
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
            consumer::run(js, clickhouse, batch, counters, stopped).await;
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
    // The batch in flight is inserted and acked before we exit.
    if tokio::time::timeout(Duration::from_secs(30), consuming)
        .await
        .is_err()
    {
        tracing::warn!("sink consumer did not finish within 30 s");
    }
    Ok(())
}
