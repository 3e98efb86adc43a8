//! The sink scenario: rows/s from a filled stream into a fresh ClickHouse, against its limits
//! measured on the same messages and rows: bare JetStream consumers that only ack (each message,
//! or with `AckAll` the last of each batch), and a direct `clickhouse` crate insert.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use async_nats::jetstream;
use devstack::clickhouse::{ClickHouse, ClickHousePorts};
use devstack::nats::NatsServer;
use devstack::ports::free_port;
use devstack::test::TempDir;

use super::drain::{Drain, still_running};
use super::quiet::settle;
use super::send::sample_event;
use super::services::{cpu_seconds, peak_rss_mib, start};
use crate::launcher::{Running, Service};

/// The sink's batch wait in every scenario here, its default; freshness depends on it.
pub(crate) const SINK_BATCH_WAIT_MS: u64 = 200;

/// What the sink scenario measured.
#[derive(Debug)]
pub(crate) struct SinkReport {
    pub(crate) rows: usize,
    /// Rows per insert of the sink and of the direct insert, and per ack of `AckAll`.
    pub(crate) batch: usize,
    pub(crate) rows_per_sec: f64,
    pub(crate) raw_insert_rows_per_sec: f64,
    /// Raw JetStream consumption of the same messages: pull, explicit ack, nothing else.
    pub(crate) raw_consume_rows_per_sec: f64,
    /// The same with `AckAll`: one ack, of the last message, per batch of the sink's size.
    pub(crate) raw_ack_all_rows_per_sec: f64,
    /// nats-server's CPU µs per row while each bare consumer read: explicit acks, `AckAll`.
    pub(crate) raw_consume_nats_cpu_us: [f64; 2],
    /// CPU µs per row while the sink drained the stream: sink, nats-server, ClickHouse.
    pub(crate) cpu_us: [f64; 3],
    /// CPU µs per row of ClickHouse during the direct insert.
    pub(crate) raw_insert_cpu_us: f64,
    /// The sink's peak resident memory while it drained the stream, MiB.
    pub(crate) peak_rss_mib: f64,
}

/// The release sink as the bench runs it, on one port, into `bench` of one ClickHouse.
#[derive(Clone)]
pub(crate) struct Sink {
    name: String,
    env: Vec<(&'static str, String)>,
}

impl Sink {
    fn new(nats: &NatsServer, clickhouse: &ClickHouse) -> anyhow::Result<Self> {
        let port = free_port()?;
        let env = vec![
            ("SINK_PORT", port.to_string()),
            ("NATS_URL", nats.url()),
            ("CLICKHOUSE_PORT", clickhouse.http_port().to_string()),
            ("CLICKHOUSE_DB", "bench".to_owned()),
            ("SINK_BATCH_SIZE", batch_size().to_string()),
            ("SINK_BATCH_WAIT_MS", SINK_BATCH_WAIT_MS.to_string()),
        ];
        Ok(Self {
            name: "sink".to_owned(),
            env,
        })
    }

    /// Another sink like this one, on a port of its own and logging to `<name>.log`: a
    /// replica on the same durable consumer.
    pub(crate) fn replica(&self, name: &str) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut env = self.env.clone();
        for (variable, value) in &mut env {
            if *variable == "SINK_PORT" {
                *value = port.to_string();
            }
        }
        Ok(Self {
            name: name.to_owned(),
            env,
        })
    }

    /// Starts it, not waiting for it to be ready: the drain is timed from its first delivery.
    pub(crate) fn start(&self, dir: &Path) -> anyhow::Result<Running> {
        start(dir, Service::new("sink").name(&self.name).envs(&self.env))
    }
}

/// The sink drains the `rows` messages in `EVENTS` into a fresh ClickHouse; then the limits.
/// The ClickHouse (holding the rows in `bench`) and the sink, for the scenarios after.
pub(crate) async fn run(
    dir: &TempDir,
    js: &jetstream::Context,
    nats: &NatsServer,
    rows: usize,
) -> anyhow::Result<(SinkReport, ClickHouse, Sink)> {
    let clickhouse = ClickHouse::start(
        &dir.path().join("clickhouse"),
        ClickHousePorts {
            http: free_port()?,
            tcp: free_port()?,
            interserver: free_port()?,
        },
    )?;
    let per_row = |seconds: f64| seconds * 1e6 / rows as f64;
    // The bare consumers read first: EVENTS keeps each message until every consumer acked it
    // (interest retention), so both find them all, and so does the sink, whose own acks then
    // remove them as in production.
    let [explicit, ack_all] = bare_consumers(js, nats).await?;

    settle(js, Some(&clickhouse), "sink").await?;
    eprintln!("sink: {rows} rows from the stream");
    let sink = Sink::new(nats, &clickhouse)?;
    let drain = Drain::before(js, SINK_CONSUMER).await?;
    anyhow::ensure!(
        drain.rows == rows,
        "EVENTS holds {} rows, not {rows}",
        drain.rows
    );
    let mut running = sink.start(dir.path())?;
    let before = [
        cpu_seconds(nats.process()),
        cpu_seconds(clickhouse.process()),
    ];
    let rows_per_sec = drain
        .rate(|| still_running(std::slice::from_mut(&mut running)))
        .await?;
    let cpu_us = [
        per_row(cpu_seconds(&running.process)),
        per_row(cpu_seconds(nats.process()) - before[0]),
        per_row(cpu_seconds(clickhouse.process()) - before[1]),
    ];
    eprintln!(
        "sink: {rows_per_sec:.0} rows/s; CPU µs per row: sink {:.1}, nats-server {:.1}, clickhouse {:.1}",
        cpu_us[0], cpu_us[1], cpu_us[2]
    );
    anyhow::ensure!(
        clickhouse.query("SELECT count() FROM bench.events")?.trim() == rows.to_string(),
        "the sink acked every row, but ClickHouse does not hold them all"
    );
    let peak_rss_mib = peak_rss_mib(&running.process);
    running.stop();

    settle(js, Some(&clickhouse), "direct insert").await?;
    eprintln!("sink: the same rows inserted directly");
    let before = cpu_seconds(clickhouse.process());
    let raw_insert_rows_per_sec = raw_insert(&clickhouse, rows).await?;
    let raw_insert_cpu_us = per_row(cpu_seconds(clickhouse.process()) - before);
    eprintln!(
        "direct insert: {raw_insert_rows_per_sec:.0} rows/s; CPU µs per row: clickhouse {raw_insert_cpu_us:.1}"
    );
    let report = SinkReport {
        rows,
        batch: batch_size(),
        rows_per_sec,
        raw_insert_rows_per_sec,
        raw_consume_rows_per_sec: explicit.0,
        raw_ack_all_rows_per_sec: ack_all.0,
        raw_consume_nats_cpu_us: [explicit.1, ack_all.1],
        cpu_us,
        raw_insert_cpu_us,
        peak_rss_mib,
    };
    Ok((report, clickhouse, sink))
}

/// The sink's durable consumer, which the bare ones copy.
const SINK_CONSUMER: &str = "sink-clickhouse";

/// The bare consumers in the order they read, and whether each acks with `AckAll`: explicit
/// acks, `AckAll`, `AckAll`, explicit acks, so that neither reads only first (from a colder
/// cache) or only after the other. Each figure is the better of its two reads.
const BARE: [(&str, bool); 4] = [
    ("bench-raw-consume-1", false),
    ("bench-raw-ack-all-1", true),
    ("bench-raw-ack-all-2", true),
    ("bench-raw-consume-2", false),
];

/// The other limits of the sink: durable consumers configured like the sink's, acking each
/// message or with `AckAll`, all created before any reads (and before the sink drains) and
/// deleted afterwards, whether reading failed or not: EVENTS (interest retention) keeps every
/// message for a consumer left behind. Rows/s and nats-server's CPU µs per row of explicit
/// acks, then of `AckAll`.
async fn bare_consumers(
    js: &jetstream::Context,
    nats: &NatsServer,
) -> anyhow::Result<[(f64, f64); 2]> {
    let stream = js.get_stream("EVENTS").await?;
    let mut created = Vec::new();
    let measured = read_bare(js, nats, &mut created).await;
    let mut deleted = Ok(());
    for name in created {
        if let Err(err) = stream.delete_consumer(name).await {
            eprintln!("sink: deleting the consumer {name} failed: {err}");
            deleted = Err(anyhow::anyhow!("deleting the consumer {name}: {err}"));
        }
    }
    let measured = measured?;
    deleted?;
    Ok(measured)
}

/// Creates the `BARE` consumers (each one's name pushed to `created` once it exists), then
/// reads with each in turn, the stream settled before each. They read on a connection and a
/// task of their own, as the sink does in its process: `js` asks how the drain goes.
async fn read_bare(
    js: &jetstream::Context,
    nats: &NatsServer,
    created: &mut Vec<&'static str>,
) -> anyhow::Result<[(f64, f64); 2]> {
    let reader = jetstream::new(plumbing::streams::connect(nats.url()).await?);
    let stream = reader.get_stream("EVENTS").await?;
    let sink: jetstream::consumer::PullConsumer = stream
        .get_consumer(SINK_CONSUMER)
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let like = &sink.cached_info().config;
    let mut consumers = Vec::new();
    for (name, ack_all) in BARE {
        let consumer: jetstream::consumer::PullConsumer = stream
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some(name.to_owned()),
                ack_policy: if ack_all {
                    jetstream::consumer::AckPolicy::All
                } else {
                    like.ack_policy
                },
                ack_wait: like.ack_wait,
                max_deliver: like.max_deliver,
                max_ack_pending: like.max_ack_pending,
                filter_subject: like.filter_subject.clone(),
                ..Default::default()
            })
            .await
            .map_err(|err| anyhow::anyhow!("{name}: {err}"))?;
        created.push(name);
        consumers.push(consumer);
    }
    let mut best = [(0.0, 0.0); 2];
    for (consumer, (name, ack_all)) in consumers.iter().zip(BARE) {
        settle(js, None, name).await?;
        eprintln!("sink: the same messages consumed and acked, nothing else ({name})");
        let drain = Drain::before(js, name).await?;
        let before = cpu_seconds(nats.process());
        let reading = tokio::spawn(bare_consume(consumer.clone(), drain.rows, ack_all));
        let (rate, ()) = tokio::try_join!(drain.rate(|| Ok(())), async { reading.await? })?;
        let nats_us = (cpu_seconds(nats.process()) - before) * 1e6 / drain.rows as f64;
        eprintln!("{name}: {rate:.0} rows/s, nats-server CPU µs per row {nats_us:.1}");
        let kept = &mut best[usize::from(ack_all)];
        if rate > kept.0 {
            *kept = (rate, nats_us);
        }
    }
    Ok(best)
}

/// `rows` messages of `consumer`, read with the sink's continuous pull and batch size and
/// otherwise ignored: each acked, or (`ack_all`) only the last of each batch and the last one.
/// Timed by its [`Drain`], as the sink is.
async fn bare_consume(
    consumer: jetstream::consumer::PullConsumer,
    rows: usize,
    ack_all: bool,
) -> anyhow::Result<()> {
    let batch = batch_size();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await?;
    for i in 0..rows {
        let message = futures_util::StreamExt::next(&mut messages)
            .await
            .context("the consumer ended")?
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        if !ack_all || (i + 1) % batch == 0 || i + 1 == rows {
            message
                .ack()
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?;
        }
    }
    Ok(())
}

/// The limit of the sink: the same number of rows inserted with the `clickhouse` crate, in
/// batches of the sink's size, into a table with the same DDL.
async fn raw_insert(clickhouse: &ClickHouse, rows: usize) -> anyhow::Result<f64> {
    let config = plumbing::config::ClickHouseConfig::local(clickhouse.http_port(), "bench_raw");
    let server = ::clickhouse::Client::default()
        .with_url(config.url())
        .with_validation(false);
    ::sink::schema::apply(&server, "bench_raw")
        .await
        .context("raw schema")?;
    let client = server.with_database("bench_raw");
    let all: Vec<::sink::row::EventRow> = (0..rows)
        .map(|i| ::sink::row::EventRow::new(sample_event(), i as u64))
        .collect();
    let started = Instant::now();
    for chunk in all.chunks(batch_size()) {
        let mut insert = client.insert::<::sink::row::EventRow>("events").await?;
        for row in chunk {
            insert.write(row).await?;
        }
        insert.end().await?;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// Rows per insert, for the sink and the direct insert alike: the sink's default, or
/// `BENCH_BATCH` to compare sizes.
pub(crate) fn batch_size() -> usize {
    std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(::sink::BatchSettings::default().max_messages)
}
