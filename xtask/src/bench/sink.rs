//! The sink scenario: rows/s from a filled stream into a fresh ClickHouse, against its two
//! limits measured on the same messages and rows: a bare JetStream consumer that only acks, and
//! a direct `clickhouse` crate insert.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use devstack::clickhouse::{ClickHouse, ClickHousePorts};
use devstack::nats::NatsServer;
use devstack::ports::free_port;
use devstack::process::Process;
use devstack::test::TempDir;

use super::send::sample_event;
use super::services::{cpu_seconds, peak_rss_mib, start};
use crate::launcher::{Running, Service};

/// The sink's batch wait in every scenario here, its default; freshness depends on it.
pub(crate) const SINK_BATCH_WAIT_MS: u64 = 200;

/// What the sink scenario measured.
#[derive(Debug)]
pub(crate) struct SinkReport {
    pub(crate) rows: usize,
    pub(crate) rows_per_sec: f64,
    pub(crate) raw_insert_rows_per_sec: f64,
    /// Raw JetStream consumption of the same messages: pull, explicit ack, nothing else.
    pub(crate) raw_consume_rows_per_sec: f64,
    /// CPU µs per row while the sink drained the stream: sink, nats-server, ClickHouse.
    pub(crate) cpu_us: [f64; 3],
    /// CPU µs per row of ClickHouse during the direct insert.
    pub(crate) raw_insert_cpu_us: f64,
    /// The sink's peak resident memory while it drained the stream, MiB.
    pub(crate) peak_rss_mib: f64,
}

/// The release sink as the bench runs it, on one port, into `bench` of one ClickHouse.
pub(crate) struct Sink {
    pub(crate) port: u16,
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
        Ok(Self { port, env })
    }

    /// Starts it, not waiting for it to be ready: the drain is timed from its first batch.
    pub(crate) fn start(&self, dir: &Path) -> anyhow::Result<Running> {
        start(dir, Service::new("sink").envs(&self.env))
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
    // The bare consumer reads first: EVENTS keeps each message until every consumer acked it
    // (interest retention), so the sink still finds them all, and its own acks then remove them
    // as in production.
    eprintln!("sink: the same messages consumed and acked, nothing else");
    let raw_consume_rows_per_sec = raw_consume(js, rows).await?;

    eprintln!("sink: {rows} rows from the stream");
    let sink = Sink::new(nats, &clickhouse)?;
    let mut running = sink.start(dir.path())?;
    let before = [
        cpu_seconds(nats.process()),
        cpu_seconds(clickhouse.process()),
    ];
    let rows_per_sec = sink_rate(&mut running.process, sink.port, rows, &running.log)?;
    let cpu_us = [
        per_row(cpu_seconds(&running.process)),
        per_row(cpu_seconds(nats.process()) - before[0]),
        per_row(cpu_seconds(clickhouse.process()) - before[1]),
    ];
    eprintln!(
        "sink: CPU µs per row: sink {:.1}, nats-server {:.1}, clickhouse {:.1}",
        cpu_us[0], cpu_us[1], cpu_us[2]
    );
    anyhow::ensure!(
        clickhouse.query("SELECT count() FROM bench.events")?.trim() == rows.to_string(),
        "the sink reported every row inserted, but ClickHouse does not hold them all"
    );
    let peak_rss_mib = peak_rss_mib(&running.process);
    running.stop();

    eprintln!("sink: the same rows inserted directly");
    let before = cpu_seconds(clickhouse.process());
    let raw_insert_rows_per_sec = raw_insert(&clickhouse, rows).await?;
    let raw_insert_cpu_us = per_row(cpu_seconds(clickhouse.process()) - before);
    eprintln!("direct insert: CPU µs per row: clickhouse {raw_insert_cpu_us:.1}");
    let report = SinkReport {
        rows,
        rows_per_sec,
        raw_insert_rows_per_sec,
        raw_consume_rows_per_sec,
        cpu_us,
        raw_insert_cpu_us,
        peak_rss_mib,
    };
    Ok((report, clickhouse, sink))
}

/// Rows per second the sink inserts, from its own counter: from the first batch it stored
/// (process start and connecting excluded) until it stored all `rows`.
fn sink_rate(sink: &mut Process, port: u16, rows: usize, log: &Path) -> anyhow::Result<f64> {
    let inserted = || -> usize {
        devstack::http::get(port, "/metrics", Duration::from_secs(2))
            .ok()
            .and_then(|response| {
                response.body.lines().find_map(|line| {
                    line.strip_prefix("sink_rows_inserted_total ")
                        .and_then(|n| n.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    };
    // Polled every 25 ms: the drain takes seconds, so each end is off by under 1 % of it, and
    // rendering `/metrics` costs the sink about 1 % of its CPU (every 5 ms, it cost 6 %).
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = None;
    loop {
        let n = inserted();
        if n > 0 && first.is_none() {
            first = Some((Instant::now(), n));
        }
        if n >= rows {
            break;
        }
        anyhow::ensure!(
            sink.exit_status().is_none() && Instant::now() < deadline,
            "the sink stopped or stalled at {n} of {rows} rows; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let (started, already) = first.context("the sink stored nothing")?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(already < rows, "one batch held every row; use more rows");
    Ok((rows - already) as f64 / elapsed)
}

/// The other limit of the sink: a durable consumer configured like the sink's, read with the
/// same continuous pull and batch size, each message acked and otherwise ignored; deleted
/// afterwards, so that EVENTS does not keep messages for it.
async fn raw_consume(js: &jetstream::Context, rows: usize) -> anyhow::Result<f64> {
    let stream = js.get_stream("EVENTS").await?;
    let sink: jetstream::consumer::PullConsumer = stream
        .get_consumer("sink-clickhouse")
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let like = &sink.cached_info().config;
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("bench-raw-consume".to_owned()),
            ack_policy: like.ack_policy,
            ack_wait: like.ack_wait,
            max_deliver: like.max_deliver,
            max_ack_pending: like.max_ack_pending,
            filter_subject: like.filter_subject.clone(),
            ..Default::default()
        })
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch_size())
        .messages()
        .await?;
    let started = Instant::now();
    for _ in 0..rows {
        let message = futures_util::StreamExt::next(&mut messages)
            .await
            .context("the consumer ended")?
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        message
            .ack()
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    stream.delete_consumer("bench-raw-consume").await?;
    Ok(rate)
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
fn batch_size() -> usize {
    std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(::sink::BatchSettings::default().max_messages)
}
