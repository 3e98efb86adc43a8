//! `cargo xtask import`: past events from a PostHog, Segment/RudderStack or Umami export,
//! published to JetStream `EVENTS` as ingest publishes live ones (same subject, the event id as
//! `Nats-Msg-Id`) with the [`contract::streams::IMPORT_HEADER`] that makes the sink look every
//! id up before storing it: an import run twice stores every event once. Reading, mapping and
//! publishing are ingest's ([`ingest::import`], which the imports API runs too); this command
//! saves the progress next to the file, and a rerun continues from there.

mod state;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use async_nats::jetstream;
use devstack::nats::NatsUser;
use ingest::import::records::Records;
use ingest::import::run::{Ended, Import, Observer, Options, Saved};
use ingest::import::{Format, Mapper};
use uuid::Uuid;

use state::Progress;

/// Import past events from a PostHog, Segment/RudderStack or Umami export (see docs/importing.md)
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The project the events go to
    #[arg(long)]
    project: Uuid,
    /// What wrote the file: posthog, segment or umami
    #[arg(long, value_parser = format_named)]
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

/// The format `name` names, for the command line.
fn format_named(name: &str) -> Result<Format, String> {
    Format::of(name).ok_or_else(|| format!("{name:?}: one of posthog, segment, umami"))
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
        let format = self.format;
        let identity = state::Identity::of(&self.file, self.project.to_string(), format.name())?;
        let saved = state::load(&self.file, &identity)?;
        if saved.offset > 0 {
            eprintln!(
                "resuming at byte {} ({} events imported before)",
                saved.offset, saved.events
            );
        }
        let file = tokio::fs::File::open(&self.file)
            .await
            .with_context(|| format!("opening {}", self.file.display()))?;
        let total = file.metadata().await?.len();
        let csv = format.is_csv(&head_of(&self.file)?);
        let mut records = Records::open(file, csv, saved.offset).await?;
        let mut cli = Cli {
            input: &self.file,
            identity: &identity,
            progress: Progress::new(total, saved.events),
            refused_here: 0,
        };
        let import = Import {
            js: &js,
            format,
            mapper: Mapper::new(self.project),
            options: Options {
                window: self.window,
                max_backlog: self.max_backlog,
                save_every: SAVE_EVERY,
                stop_after: self.stop_after,
            },
        };
        match import.run(&mut records, saved, &mut cli).await? {
            // As if killed: whatever is in flight is left to JetStream.
            Ended::Stopped => std::process::exit(3),
            Ended::Whole(saved) => {
                client.flush().await?;
                cli.finish(saved)
            }
        }
    }
}

/// The command's side of an import: the state file, the progress line, refusals on stderr.
struct Cli<'a> {
    input: &'a Path,
    identity: &'a state::Identity,
    progress: Progress,
    /// Records refused by this run.
    refused_here: u64,
}

impl Observer for Cli<'_> {
    async fn save(&mut self, saved: Saved) -> anyhow::Result<()> {
        state::save(self.input, self.identity, saved)
    }

    fn acked(&mut self, saved: Saved) {
        self.progress.show(saved, false);
    }

    fn refused(&mut self, line: u64, offset: u64, reason: &str) {
        self.refused_here += 1;
        if self.refused_here <= 10 {
            eprintln!("\nrecord on line {line} (ending at byte {offset}) skipped: {reason}");
        }
    }

    fn waiting(&mut self, message: &str) {
        eprintln!("\n{message}");
    }
}

impl Cli<'_> {
    /// The end of a whole file: the state file removed (a rerun imports the whole file again,
    /// storing nothing new) and the totals printed; refused records fail the run, so that a
    /// script notices (the events imported stay).
    fn finish(mut self, saved: Saved) -> anyhow::Result<()> {
        self.progress.show(saved, true);
        let _ = std::fs::remove_file(state::path_of(self.input));
        println!(
            "imported {} events ({} records refused) at {:.0} events/s",
            saved.events,
            saved.refused,
            self.progress.rate(saved.events)
        );
        anyhow::ensure!(
            saved.refused == 0,
            "{} records refused (the first ten named above)",
            saved.refused
        );
        Ok(())
    }
}

/// The first bytes of `file`, by which its format tells CSV from JSON as the web app's
/// imports do.
fn head_of(file: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(file)
        .with_context(|| format!("opening {}", file.display()))?
        .take(4096)
        .read_to_end(&mut head)?;
    Ok(head)
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
