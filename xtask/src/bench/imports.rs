//! The import scenario (issue 20): `cargo xtask import` run as a user runs it (this same
//! binary, its documented flags, signed in to NATS as ingest) on an export of each format the
//! scenario writes, with the sink storing as it goes. Two figures per format: events/s acked
//! by JetStream (the import process's wall time) and events/s until ClickHouse holds every one;
//! each against the same events published straight to JetStream by one task with the same
//! window of PubAcks, the same headers, stored by the same sink. The same again without the
//! import header shows what the sink's lookup of imported ids costs. Rounds of all five,
//! interleaved, and the median of each: one slow moment of a shared machine does not make a
//! ratio.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use devstack::clickhouse::ClickHouse;
use devstack::nats::{NatsServer, NatsUser};
use serde_json::{Value, json};
use uuid::Uuid;

use super::import_data::{event_of, write_export};
use super::load::ratio;

/// PubAcks awaited at once: the import's default `--window`, passed to it explicitly so that
/// the raw limit is measured with the same.
pub(crate) const WINDOW: usize = 4_000;

/// The formats imported, each from an export of its own.
const FORMATS: [&str; 3] = ["posthog", "segment", "umami"];

/// Rounds of every import and limit: three, so the median is the middle one.
const ROUNDS: usize = 3;

/// Events per export: a few seconds of work each.
fn events(quick: bool) -> usize {
    if quick { 50_000 } else { 200_000 }
}

/// One import (or the raw limit): its rates and the file it read.
#[derive(Debug, Clone)]
pub(crate) struct Imported {
    pub(crate) format: &'static str,
    pub(crate) file_bytes: u64,
    /// Every event published and acked by JetStream, over the wall time of the import process.
    pub(crate) acked_per_sec: f64,
    /// Every event in ClickHouse (`count()` of the project equals the file), from the start.
    pub(crate) stored_per_sec: f64,
}

/// What the import scenario measured.
#[derive(Debug)]
pub(crate) struct ImportReport {
    pub(crate) events: usize,
    /// The same events published by one task with the same window, stored by the same sink.
    pub(crate) raw: Imported,
    /// The same without the import header, as live events are published: the sink stores
    /// them without looking their ids up in ClickHouse first.
    pub(crate) live: Imported,
    pub(crate) formats: Vec<Imported>,
    /// Every round of each (raw, raw without the header, each format), in the order they ran.
    pub(crate) rounds: Vec<Vec<Imported>>,
}

impl ImportReport {
    /// The format with the lowest ratio to the raw limit, by `rate`, and that ratio.
    pub(crate) fn slowest(&self, rate: fn(&Imported) -> f64) -> (&Imported, f64) {
        self.formats
            .iter()
            .map(|f| (f, ratio(rate(f), rate(&self.raw))))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((&self.raw, 0.0))
    }
}

/// Rounds of both raw limits, then an import of each format, each into a project of its own;
/// the sink (running) stores them all into `clickhouse`'s `bench` database.
pub(crate) async fn run(
    quick: bool,
    dir: &Path,
    nats: &NatsServer,
    clickhouse: &ClickHouse,
) -> anyhow::Result<ImportReport> {
    let events = events(quick);
    let url = nats.url_for(NatsUser::Ingest);
    let dir = dir.join("import");
    std::fs::create_dir_all(&dir)?;
    // Raw with the import header, raw without, then each format.
    let mut rounds: Vec<Vec<Imported>> = vec![Vec::new(); 2 + FORMATS.len()];
    for round in 1..=ROUNDS {
        eprintln!(
            "import round {round}/{ROUNDS}: {events} events published straight to JetStream (window {WINDOW}), then from each export"
        );
        let raw = raw_publish(&url, clickhouse, events, true).await?;
        let live = raw_publish(&url, clickhouse, events, false).await?;
        for (series, imported) in rounds.iter_mut().zip([raw, live]) {
            say(&imported);
            series.push(imported);
        }
        for (series, format) in rounds[2..].iter_mut().zip(FORMATS) {
            let file = write_export(&dir, format, events, round)?;
            let imported = import(&url, clickhouse, format, &file, events);
            std::fs::remove_file(&file)?;
            let imported = imported?;
            say(&imported);
            series.push(imported);
        }
    }
    let mut medians = rounds.iter().map(|series| median(series));
    let (raw, live) = (medians.next(), medians.next());
    Ok(ImportReport {
        events,
        raw: raw.context("no rounds")?,
        live: live.context("no rounds")?,
        formats: medians.collect(),
        rounds,
    })
}

/// The median round's acked rate and the median round's stored rate (of an even count, the
/// lower middle one).
fn median(series: &[Imported]) -> Imported {
    let middle = |rate: fn(&Imported) -> f64| {
        let mut rates: Vec<f64> = series.iter().map(rate).collect();
        rates.sort_by(f64::total_cmp);
        rates
            .get(rates.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0.0)
    };
    Imported {
        format: series.first().map_or("", |first| first.format),
        file_bytes: series.first().map_or(0, |first| first.file_bytes),
        acked_per_sec: middle(|f| f.acked_per_sec),
        stored_per_sec: middle(|f| f.stored_per_sec),
    }
}

fn say(imported: &Imported) {
    eprintln!(
        "import: {}: {:.0} events/s acked, {:.0} events/s stored",
        imported.format, imported.acked_per_sec, imported.stored_per_sec
    );
}

/// `cargo xtask import` of `file` into a fresh project, timed from its start to its exit and
/// to ClickHouse holding all `events`.
fn import(
    nats_url: &str,
    clickhouse: &ClickHouse,
    format: &'static str,
    file: &Path,
    events: usize,
) -> anyhow::Result<Imported> {
    let project = Uuid::now_v7();
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["import", "--project", &project.to_string()])
        .args(["--format", format, "--nats-url", nats_url])
        .args(["--window", &WINDOW.to_string()])
        .arg(file);
    let started = Instant::now();
    let output = command.output().context("running the import")?;
    let acked = started.elapsed();
    let printed = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "the {format} import failed ({}): {}{}",
        output.status,
        printed,
        String::from_utf8_lossy(&output.stderr)
    );
    if let Some(summary) = printed.lines().rev().find(|l| l.starts_with("imported")) {
        eprintln!("import: {format}: it printed \"{summary}\"");
    }
    let stored = stored(clickhouse, project, events, started)?;
    Ok(Imported {
        format,
        file_bytes: std::fs::metadata(file)?.len(),
        acked_per_sec: events as f64 / acked.as_secs_f64(),
        stored_per_sec: events as f64 / stored.as_secs_f64(),
    })
}

/// The time from `started` until ClickHouse holds `events` rows of `project`.
fn stored(
    clickhouse: &ClickHouse,
    project: Uuid,
    events: usize,
    started: Instant,
) -> anyhow::Result<Duration> {
    let sql = format!("SELECT count() FROM bench.events WHERE project_id = '{project}'");
    let want = events.to_string();
    // The full run's 200 000 events at a tenth of the slowest rate seen (9 400 events/s)
    // take under four minutes.
    devstack::wait::until(
        "the sink to store every imported event",
        Duration::from_secs(300),
        || clickhouse.query(&sql).is_ok_and(|n| n.trim() == want),
    )
    .with_context(|| {
        let held = clickhouse.query(&sql).unwrap_or_default();
        format!("ClickHouse holds {} of {events}", held.trim())
    })?;
    Ok(started.elapsed())
}

/// The limit: the same events, as the import maps them, published by one task to `EVENTS`
/// with the same headers (`Nats-Msg-Id`, and the import header if `imported`) and `WINDOW`
/// PubAcks awaited oldest first, as the same NATS user; then stored by the same sink.
async fn raw_publish(
    nats_url: &str,
    clickhouse: &ClickHouse,
    events: usize,
    imported: bool,
) -> anyhow::Result<Imported> {
    let project = Uuid::now_v7();
    let client = plumbing::streams::connect(nats_url).await?;
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(WINDOW + 100)
        .build(client.clone());
    let subject = contract::streams::event_subject(&project.to_string(), "track");
    let started = Instant::now();
    let mut window = VecDeque::with_capacity(WINDOW);
    for i in 0..events {
        let event = event_of(project, i);
        let id = event.event_id.to_string();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        if imported {
            headers.insert(contract::streams::IMPORT_HEADER, "1");
        }
        let message = jetstream::message::PublishMessage::build()
            .payload(serde_json::to_vec(&event)?.into())
            .headers(headers);
        window.push_back(js.send_publish(subject.clone(), message).await?);
        while window.len() >= WINDOW {
            if let Some(ack) = window.pop_front() {
                ack.await?;
            }
        }
    }
    for ack in window {
        ack.await?;
    }
    client.flush().await?;
    let acked = started.elapsed();
    let stored = stored(clickhouse, project, events, started)?;
    Ok(Imported {
        format: if imported {
            "raw publish"
        } else {
            "raw publish without the import header"
        },
        file_bytes: 0,
        acked_per_sec: events as f64 / acked.as_secs_f64(),
        stored_per_sec: events as f64 / stored.as_secs_f64(),
    })
}

/// The scenario's section of the report; `sink_rows_per_sec` is the sink scenario's rate, for
/// comparison.
pub(crate) fn markdown(report: &ImportReport, sink_rows_per_sec: f64) -> String {
    let raw = &report.raw;
    let mut out = format!(
        "## Import (`cargo xtask import`, {} events of each format, `--window {WINDOW}`, signed in to NATS as ingest; the sink storing as it goes; median of {ROUNDS} rounds, each running all five in turn)\n\n\
Acked: every event published and acknowledged by JetStream, over the wall time of the import \
process (start, reading, mapping, publishing, exit). Stored: from the process's start until \
`count()` of its project in ClickHouse equals the file. The limit: the same events, normalised, \
published by one task to `EVENTS` with the same window and headers, stored by the same sink: \
{:.0} events/s acked, {:.0} events/s stored. Without the import header, as live events are \
published (the sink then looks no ids up in ClickHouse before storing): {:.0} events/s acked, \
{:.0} events/s stored. The sink scenario above stored {:.0} rows/s of 97 persons' events, \
all of the current minute; these are 5 000 persons' events, one every 97 s from 2023-01-01.\n\n\
| export | file | acked events/s | ratio to raw publish | stored events/s | ratio to raw publish stored |\n|---|---|---|---|---|---|\n",
        report.events,
        raw.acked_per_sec,
        raw.stored_per_sec,
        report.live.acked_per_sec,
        report.live.stored_per_sec,
        sink_rows_per_sec,
    );
    for f in &report.formats {
        let _ = writeln!(
            out,
            "| {} | {:.1} MiB | {:.0} | {:.2} | {:.0} | {:.2} |",
            f.format,
            f.file_bytes as f64 / (1024.0 * 1024.0),
            f.acked_per_sec,
            ratio(f.acked_per_sec, raw.acked_per_sec),
            f.stored_per_sec,
            ratio(f.stored_per_sec, raw.stored_per_sec),
        );
    }
    out.push('\n');
    out
}

/// The scenario's part of the JSON report.
pub(crate) fn json(report: &ImportReport) -> Value {
    let raw = &report.raw;
    let one = |f: &Imported| {
        json!({
            "file_bytes": f.file_bytes,
            "acked_events_per_sec": f.acked_per_sec,
            "acked_ratio": ratio(f.acked_per_sec, raw.acked_per_sec),
            "stored_events_per_sec": f.stored_per_sec,
            "stored_ratio": ratio(f.stored_per_sec, raw.stored_per_sec),
        })
    };
    json!({
        "events": report.events,
        "window": WINDOW,
        "raw_publish": {
            "acked_events_per_sec": raw.acked_per_sec,
            "stored_events_per_sec": raw.stored_per_sec,
        },
        "raw_publish_without_import_header": {
            "acked_events_per_sec": report.live.acked_per_sec,
            "stored_events_per_sec": report.live.stored_per_sec,
        },
        "formats": report.formats.iter().map(|f| (f.format.to_owned(), one(f))).collect::<serde_json::Map<_, _>>(),
        "rounds": report.rounds.iter().filter_map(|series| {
            let name = series.first()?.format.to_owned();
            let each = series.iter().map(|f| json!({
                "acked_events_per_sec": f.acked_per_sec,
                "stored_events_per_sec": f.stored_per_sec,
            }));
            Some((name, each.collect::<Vec<_>>().into()))
        }).collect::<serde_json::Map<_, _>>(),
    })
}
