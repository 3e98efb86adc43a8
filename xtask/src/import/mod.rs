//! `cargo xtask import`: past events from a PostHog, Segment/RudderStack or Umami export,
//! published to JetStream `EVENTS` as ingest publishes live ones (same subject, the event id as
//! `Nats-Msg-Id`) with the [`contract::streams::IMPORT_HEADER`] that makes the sink look every
//! id up before storing it: an import run twice stores every event once. Progress is saved
//! next to the file, and a rerun continues from there.

mod backlog;
mod records;
mod state;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use contract::event::Event;
use devstack::nats::NatsUser;
use ingest::import::{Mapper, link_of};
use uuid::Uuid;

use records::{Record, Records};
use state::{Progress, Saved};

/// Import past events from a PostHog, Segment/RudderStack or Umami export (see docs/importing.md)
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The project the events go to
    #[arg(long)]
    project: Uuid,
    /// What wrote the file
    #[arg(long, value_enum)]
    format: Format,
    /// NATS, as a user that may publish events [default: NATS_URL, else the `up` stack as ingest]
    #[arg(long)]
    nats_url: Option<String>,
    /// PubAcks awaited at once
    #[arg(long, default_value_t = 4000)]
    window: usize,
    /// Wait for the sink while EVENTS holds more than this percent of its max_bytes (a full
    /// EVENTS refuses live events too)
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(1..=90))]
    max_backlog: u8,
    /// For tests: exit after publishing this many events, without waiting for their acks,
    /// as a killed import would
    #[arg(long, hide = true)]
    stop_after: Option<u64>,
    /// The export: JSON lines (PostHog, Segment) or CSV (PostHog `*.csv`, Umami)
    file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Posthog,
    Segment,
    Umami,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Posthog => "posthog",
            Format::Segment => "segment",
            Format::Umami => "umami",
        }
    }
}

/// Events saved to the state file every so many acks.
const SAVE_EVERY: u64 = 5_000;

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(self.import())
    }

    async fn import(self) -> anyhow::Result<()> {
        let url = match self
            .nats_url
            .clone()
            .or_else(|| std::env::var("NATS_URL").ok())
        {
            Some(url) => url,
            None => up_stack_url()?,
        };
        let client = plumbing::streams::connect(&url)
            .await
            .context("connecting to NATS")?;
        let js = jetstream::ContextBuilder::new()
            .max_ack_inflight(self.window.max(1) + 100)
            .build(client.clone());
        let identity =
            state::Identity::of(&self.file, self.project.to_string(), self.format.name())?;
        let saved = state::load(&self.file, &identity)?;
        if saved.offset > 0 {
            eprintln!(
                "resuming at byte {} ({} events imported before)",
                saved.offset, saved.events
            );
        }
        let file = std::fs::File::open(&self.file)
            .with_context(|| format!("opening {}", self.file.display()))?;
        let total = file.metadata()?.len();
        let csv = self.format == Format::Umami || is_csv(&self.file);
        let mut records = Records::open(file, csv, saved.offset)?;
        let mut run = Run {
            mapper: Mapper::new(self.project),
            window: VecDeque::new(),
            saved,
            last_saved: saved.events,
            progress: Progress::new(total, saved.events),
            rejected: 0,
        };
        let mut published = 0_u64;
        while let Some(record) = records.next_record()? {
            let event =
                record.and_then(|record| map(&mut run.mapper, self.format, &records, record));
            let ack = match event {
                Ok(event) => Some(publish(&js, &event).await?),
                Err(reason) => {
                    run.reject(&reason, records.offset);
                    None
                }
            };
            run.window.push_back((ack, records.offset));
            published += 1;
            if published % backlog::CHECK_EVERY == 0 {
                backlog::wait_for_sink(&js, self.max_backlog).await?;
            }
            if self.stop_after.is_some_and(|stop| published >= stop) {
                // As if killed: whatever is in flight is left to JetStream.
                std::process::exit(3);
            }
            while run.window.len() >= self.window.max(1) {
                run.settle_oldest(&self.file, &identity).await?;
            }
        }
        while !run.window.is_empty() {
            run.settle_oldest(&self.file, &identity).await?;
        }
        client.flush().await?;
        run.finish(&self.file)
    }
}

impl Run {
    /// The end of a whole file: the state file removed (a rerun imports the whole file again,
    /// storing nothing new) and the totals printed; refused records fail the run, so that a
    /// script notices (the events imported stay).
    fn finish(mut self, input: &Path) -> anyhow::Result<()> {
        self.progress.show(self.saved, true);
        let _ = std::fs::remove_file(state::path_of(input));
        let run = self;
        println!(
            "imported {} events ({} records refused) at {:.0} events/s",
            run.saved.events,
            run.rejected,
            run.progress.rate(run.saved.events)
        );
        anyhow::ensure!(
            run.rejected == 0,
            "{} records refused (the first ten named above)",
            run.rejected
        );
        Ok(())
    }
}

/// One import's publishing: the acks awaited, oldest first, with the offset past each record.
struct Run {
    mapper: Mapper,
    window: VecDeque<(Option<PublishAckFuture>, u64)>,
    saved: Saved,
    last_saved: u64,
    progress: Progress,
    rejected: u64,
}

impl Run {
    /// Awaits the oldest ack: once it is in, every record up to its offset is stored.
    async fn settle_oldest(
        &mut self,
        input: &Path,
        identity: &state::Identity,
    ) -> anyhow::Result<()> {
        let Some((ack, offset)) = self.window.pop_front() else {
            return Ok(());
        };
        if let Some(ack) = ack {
            ack.await.context("JetStream did not store an event")?;
            self.saved.events += 1;
        }
        self.saved.offset = offset;
        if self.saved.events - self.last_saved >= SAVE_EVERY {
            state::save(input, identity, self.saved)?;
            self.last_saved = self.saved.events;
        }
        self.progress.show(self.saved, false);
        Ok(())
    }

    /// A record that is not an event: said on stderr (the first few), counted, skipped.
    fn reject(&mut self, reason: &str, offset: u64) {
        self.rejected += 1;
        if self.rejected <= 10 {
            eprintln!("\nrecord ending at byte {offset} skipped: {reason}");
        }
    }
}

/// The event of one record.
fn map<R>(
    mapper: &mut Mapper,
    format: Format,
    records: &Records<R>,
    record: Record,
) -> Result<Event, String> {
    match (format, record) {
        (Format::Posthog, Record::Json(object, raw)) => mapper.posthog(object, &raw),
        (Format::Segment, Record::Json(object, raw)) => mapper.segment(object, &raw),
        (Format::Posthog, Record::Csv(fields, raw)) => {
            mapper.posthog(posthog_csv(&records.columns, &fields), &raw)
        }
        (Format::Umami, Record::Csv(fields, raw)) => {
            let column = |name: &str| {
                let index = records.columns.iter().position(|c| c == name)?;
                fields.get(index).cloned()
            };
            mapper.umami(&column, &raw)
        }
        _ => Err("not a record of this format".to_owned()),
    }
}

/// A row of PostHog's CSV export as the JSON event it stands for: `properties` is JSON text,
/// and flattened `properties.<name>` columns are properties too.
fn posthog_csv(
    columns: &[String],
    fields: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut event = serde_json::Map::new();
    let mut properties = serde_json::Map::new();
    for (column, field) in columns.iter().zip(fields) {
        // PostHog's exporter names the columns of a `SELECT *` after its `*` column.
        let column = column.strip_prefix("*.").unwrap_or(column);
        if field.is_empty() {
            continue;
        }
        match column.strip_prefix("properties.") {
            Some(name) => {
                let value = serde_json::from_str(field).unwrap_or(Value::String(field.clone()));
                properties.insert(name.to_owned(), value);
            }
            None if column == "properties" => {
                if let Ok(Value::Object(object)) = serde_json::from_str(field) {
                    properties.extend(object);
                }
            }
            None => {
                event.insert(column.to_owned(), Value::String(field.clone()));
            }
        }
    }
    event.insert("properties".to_owned(), Value::Object(properties));
    event
}

/// Publishes `event` (and the identity link it makes) as ingest does, with the import header.
async fn publish(js: &jetstream::Context, event: &Event) -> anyhow::Result<PublishAckFuture> {
    if let Some(link) = link_of(event) {
        let subject = contract::streams::person_link_subject(&event.project_id.to_string());
        let id = contract::persons::Link::message_id(event.event_id).to_string();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let message = PublishMessage::build()
            .payload(serde_json::to_vec(&link)?.into())
            .headers(headers);
        // Awaited here: a person's links are few, and their order matters.
        js.send_publish(subject, message).await?.await?;
    }
    let subject =
        contract::streams::event_subject(&event.project_id.to_string(), event.kind.as_str());
    let id = event.event_id.to_string();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
    headers.insert(contract::streams::IMPORT_HEADER, "1");
    let message = PublishMessage::build()
        .payload(serde_json::to_vec(event)?.into())
        .headers(headers);
    Ok(js.send_publish(subject, message).await?)
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"))
}

/// The `up` stack's NATS, as ingest.
fn up_stack_url() -> anyhow::Result<String> {
    let secrets = crate::local::secrets()?;
    Ok(format!(
        "nats://{}:{}@127.0.0.1:{}",
        NatsUser::Ingest.name(),
        secrets.get(NatsUser::Ingest.password_variable()),
        crate::local::port("NATS_PORT")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posthog_csv_rows_read_properties_as_json_text_or_flattened_columns() {
        let columns: Vec<String> = [
            "*.uuid",
            "event",
            "distinct_id",
            "timestamp",
            "properties",
            "properties.plan",
            "properties.seats",
        ]
        .map(str::to_owned)
        .to_vec();
        let fields: Vec<String> = [
            "u-1",
            "signed up",
            "p1",
            "2024-01-01 00:00:00",
            "{\"$browser\":\"Firefox\"}",
            "pro",
            "3",
        ]
        .map(str::to_owned)
        .to_vec();
        let event = posthog_csv(&columns, &fields);
        assert_eq!(event["uuid"], "u-1");
        assert_eq!(event["event"], "signed up");
        assert_eq!(
            event["properties"],
            serde_json::json!({"$browser": "Firefox", "plan": "pro", "seats": 3})
        );
        let mut mapper = Mapper::new(Uuid::now_v7());
        let mapped = mapper.posthog(event, b"row").expect("maps");
        assert_eq!(mapped.distinct_id, "p1");
    }
}
