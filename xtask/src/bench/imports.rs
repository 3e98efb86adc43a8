//! The import scenario (issue 20): `cargo xtask import` run as a user runs it (this same
//! binary, its documented flags, signed in to NATS as ingest) on an export of each format the
//! scenario writes, with the sink storing as it goes. Two figures per format: events/s acked
//! by JetStream (the import process's wall time) and events/s until ClickHouse holds every one;
//! each against the same events published straight to JetStream by one task with the same
//! window of PubAcks, the same headers, stored by the same sink. The same again without the
//! import header shows what the sink's lookup of imported ids costs.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use contract::event::{Event, EventContext, EventKind};
use devstack::clickhouse::ClickHouse;
use devstack::nats::{NatsServer, NatsUser};
use serde_json::{Value, json};
use uuid::Uuid;

use super::load::ratio;

/// PubAcks awaited at once: the import's default `--window`, passed to it explicitly so that
/// the raw limit is measured with the same.
pub(crate) const WINDOW: usize = 4_000;

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

/// The raw limit, then an import of each format, each into a project of its own; the sink
/// (running) stores them all into `clickhouse`'s `bench` database.
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
    eprintln!("import: {events} events published straight to JetStream, window {WINDOW}");
    let raw = raw_publish(&url, clickhouse, events, true).await?;
    say(&raw);
    let live = raw_publish(&url, clickhouse, events, false).await?;
    say(&live);
    let mut formats = Vec::new();
    for format in ["posthog", "segment", "umami"] {
        let file = write_export(&dir, format, events)?;
        eprintln!("import: {events} events from a {format} export");
        let imported = import(&url, clickhouse, format, &file, events);
        std::fs::remove_file(&file)?;
        let imported = imported?;
        say(&imported);
        formats.push(imported);
    }
    Ok(ImportReport {
        events,
        raw,
        live,
        formats,
    })
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

/// Event `i` of the PostHog export, normalised as the import publishes it.
fn event_of(project: Uuid, i: usize) -> Event {
    let (event, person, at, plan) = fields(i);
    let mut properties = serde_json::Map::new();
    properties.insert("plan".to_owned(), json!(plan));
    Event {
        // Ids of the project's own: JetStream drops an id it took in the last ten minutes.
        event_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{project}-{i}").as_bytes()),
        project_id: project,
        kind: EventKind::Track,
        event,
        distinct_id: person,
        user_id: None,
        session_id: None,
        timestamp: at,
        received_at: time::OffsetDateTime::now_utc(),
        properties,
        context: EventContext {
            url: "https://shop.example/p".to_owned(),
            host: "shop.example".to_owned(),
            path: "/p".to_owned(),
            ..EventContext::default()
        },
    }
}

/// Event `i`'s fields, as xtask's import test writes them: name, person, time (a whole
/// second, in 2023), plan.
fn fields(i: usize) -> (String, String, time::OffsetDateTime, String) {
    let at =
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_672_531_200 + (i as i64) * 97);
    (
        format!("event {}", i % 7),
        format!("person-{}", i % 5000),
        at,
        format!("plan-{}", i % 3),
    )
}

/// `2023-01-01 00:00:00`.
fn plain(at: time::OffsetDateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02}",
        at.date(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// An export of `events` records in `format`, shaped as xtask's import test writes them:
/// PostHog JSON lines, Segment JSON lines (tracks, an identify every 1000), Umami's
/// `website_event` CSV.
fn write_export(dir: &Path, format: &'static str, events: usize) -> anyhow::Result<PathBuf> {
    let file = dir.join(match format {
        "posthog" => "posthog.jsonl",
        "segment" => "segment.jsonl",
        _ => "website_event.csv",
    });
    let mut text = String::with_capacity(events * 300);
    if format == "umami" {
        text.push_str(
            "website_id,session_id,visit_id,event_id,created_at,url_path,url_query,\
             referrer_domain,page_title,event_type,event_name,hostname,browser,country\n",
        );
    }
    for i in 0..events {
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{format}-{i}").as_bytes());
        let (event, person, at, plan) = fields(i);
        let at = plain(at);
        let iso = at.replace(' ', "T") + "Z";
        let _ = match format {
            "posthog" => writeln!(
                text,
                "{}",
                json!({"uuid": id, "event": event, "distinct_id": person, "timestamp": iso,
                    "properties": {"plan": plan, "$current_url": "https://shop.example/p"}})
            ),
            "segment" if i % 1000 == 500 => writeln!(
                text,
                "{}",
                json!({"type": "identify", "messageId": id, "userId": person,
                    "anonymousId": format!("anon-{i}"), "timestamp": iso, "traits": {"plan": plan}})
            ),
            "segment" => writeln!(
                text,
                "{}",
                json!({"type": "track", "messageId": id, "event": event, "userId": person,
                    "timestamp": iso, "sentAt": "2024-06-01T00:00:00Z", "properties": {"plan": plan},
                    "context": {"library": {"name": "analytics-node"}}})
            ),
            _ => writeln!(
                text,
                "{nil},{person},{nil},{id},{at}.000,/p,plan={plan},ref.example,\"Shop, \"\"home\"\"\",2,{event},shop.example,chrome,DE",
                nil = Uuid::nil(),
            ),
        };
    }
    std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// The scenario's section of the report.
pub(crate) fn markdown(report: &ImportReport) -> String {
    let raw = &report.raw;
    let mut out = format!(
        "## Import (`cargo xtask import`, {} events of each format, `--window {WINDOW}`, signed in to NATS as ingest; the sink storing as it goes)\n\n\
Acked: every event published and acknowledged by JetStream, over the wall time of the import \
process (start, reading, mapping, publishing, exit). Stored: from the process's start until \
`count()` of its project in ClickHouse equals the file. The limit: the same events, normalised, \
published by one task to `EVENTS` with the same window and headers, stored by the same sink: \
{:.0} events/s acked, {:.0} events/s stored. Without the import header, as live events are \
published (the sink then looks no ids up in ClickHouse before storing): {:.0} events/s acked, \
{:.0} events/s stored.\n\n\
| export | file | acked events/s | ratio to raw publish | stored events/s | ratio to raw publish stored |\n|---|---|---|---|---|---|\n",
        report.events,
        raw.acked_per_sec,
        raw.stored_per_sec,
        report.live.acked_per_sec,
        report.live.stored_per_sec,
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
    })
}
