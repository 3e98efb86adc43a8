//! One claimed job run to its end: its file read from the object store from the saved offset on
//! and published, the job saved every second (its progress, and the heartbeat that keeps it
//! this ingest's); at its end done, failed for a file that cannot be read, or released to be
//! tried again after a transient error (NATS, the file's read); let go at once when ingest stops.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream;
use contract::imports::{ImportError, ImportState};
use tokio::sync::watch;

use crate::import::jobs::claimed::Claimed;
use crate::import::jobs::{Entry, Jobs, RunOutcome, now};
use crate::import::records::{Records, Unreadable};
use crate::import::run::{Ended, Import, Observer, Options, Saved};
use crate::import::stall::StallLimit;
use crate::import::{Format, Mapper};

/// PubAcks an import awaits at once.
pub(crate) const WINDOW: usize = 1000;
/// Refused records a job names.
const MAX_ERRORS: usize = 10;
/// How often a running job is saved.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How long a read of the job's file may wait for it before the run ends with an error (NATS
/// away: the object store's reader would wait without end).
const READ_STALL: Duration = Duration::from_secs(30);
/// How many times a job's end is tried to be saved, a second apart.
const END_SAVE_TRIES: u32 = 60;

/// What the import loop has told so far.
#[derive(Debug, Default)]
struct Progress {
    saved: Saved,
    errors: Vec<ImportError>,
}

/// Keeps the loop's news in the shared [`Progress`], which the job's saves read; paces the
/// loop to a test's throttle, if one is set.
#[derive(Debug)]
struct Shared(Arc<Mutex<Progress>>, Option<Throttle>);

/// At most `per_second` records a second, counted from `start`.
#[derive(Debug)]
struct Throttle {
    per_second: u32,
    start: tokio::time::Instant,
    records: u64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        lock(&self.0)
    }
}

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Observer for Shared {
    async fn save(&mut self, _saved: Saved) -> anyhow::Result<()> {
        // The job is saved every second instead, with whatever was acked last.
        Ok(())
    }

    fn acked(&mut self, saved: Saved) {
        self.lock().saved = saved;
    }

    fn pace(&mut self) -> impl std::future::Future<Output = ()> + Send {
        let until = self.1.as_mut().map(|throttle| {
            throttle.records += 1;
            let per_second = u64::from(throttle.per_second.max(1));
            let due =
                Duration::from_micros(throttle.records.saturating_mul(1_000_000) / per_second);
            throttle.start + due
        });
        async move {
            if let Some(until) = until {
                tokio::time::sleep_until(until).await;
            }
        }
    }

    fn refused(&mut self, line: u64, _offset: u64, reason: &str) {
        let mut progress = self.lock();
        let known = progress.errors.iter().any(|error| error.line == line);
        if !known && progress.errors.len() < MAX_ERRORS {
            progress.errors.push(ImportError {
                line,
                error: reason.to_owned(),
            });
        }
    }
}

fn take_progress(claimed: &mut Claimed, progress: &Progress) {
    let job = &mut claimed.entry.job;
    job.bytes_read = progress.saved.offset;
    job.imported = progress.saved.events;
    job.refused = progress.saved.refused;
    job.errors.clone_from(&progress.errors);
}

/// Waits until `stop` says ingest stops (or whoever could say so is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Runs a claimed job to its end, unless another ingest takes it over meanwhile or ingest
/// stops (`stop`): then it is saved where it stands, held by nobody, for the next to go on.
pub(crate) async fn run(
    jobs: Jobs,
    js: jetstream::Context,
    mut claimed: Claimed,
    mut stop: watch::Receiver<bool>,
) {
    let job = claimed.entry.job.clone();
    tracing::info!(job = %job.id, project_id = %job.project_id, offset = job.bytes_read, "import running");
    let progress = Arc::new(Mutex::new(Progress {
        saved: Saved {
            offset: job.bytes_read,
            events: job.imported,
            refused: job.refused,
        },
        errors: job.errors.clone(),
    }));
    let throttle = jobs.config().events_per_second.map(|per_second| Throttle {
        per_second,
        start: tokio::time::Instant::now(),
        records: 0,
    });
    let mut observer = Shared(Arc::clone(&progress), throttle);
    let entry = claimed.entry.clone();
    let import = publish(&jobs, &js, &entry, &mut observer);
    tokio::pin!(import);
    let mut tick = tokio::time::interval(SAVE_EVERY);
    let outcome = loop {
        tokio::select! {
            outcome = &mut import => break outcome,
            () = stopped(&mut stop) => {
                jobs.count_run(RunOutcome::Stopped);
                take_progress(&mut claimed, &lock(&progress));
                claimed.entry.owner = None;
                match claimed.save().await {
                    Ok(_) => tracing::info!(job = %job.id, "import let go: ingest stops"),
                    Err(err) => tracing::warn!(job = %job.id, error = %err, "import not let go"),
                }
                return;
            }
            _ = tick.tick() => {
                take_progress(&mut claimed, &lock(&progress));
                match claimed.save().await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %job.id, "import taken over by another ingest");
                        jobs.count_run(RunOutcome::TakenOver);
                        return;
                    }
                    Err(err) => tracing::warn!(job = %job.id, error = %err, "import not saved"),
                }
            }
        }
    };
    take_progress(&mut claimed, &lock(&progress));
    finish(&jobs, claimed, outcome).await;
}

/// The job's file published from its saved offset on.
async fn publish(
    jobs: &Jobs,
    js: &jetstream::Context,
    entry: &Entry,
    observer: &mut Shared,
) -> anyhow::Result<Ended> {
    let job = &entry.job;
    let format = Format::of(&job.format)
        .ok_or_else(|| Unreadable(format!("unknown format {}", job.format)))?;
    let files = &jobs.buckets().await?.files;
    let object = files.get(job.id.to_string()).await?;
    let mut records = Records::open(
        StallLimit::new(object, READ_STALL),
        entry.csv,
        job.bytes_read,
    )
    .await?;
    let saved = observer.lock().saved;
    let import = Import {
        js,
        format,
        mapper: Mapper::new(job.project_id),
        options: Options {
            window: WINDOW,
            max_backlog: 25,
            save_every: u64::MAX,
            stop_after: None,
        },
    };
    import.run(&mut records, saved, observer).await
}

/// Whether an import's error is the file's (reading it again fails the same way), not a
/// transient one.
fn unreadable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<Unreadable>())
}

/// Saves a job's end: done, failed, or released to be tried again after a transient error.
async fn finish(jobs: &Jobs, mut claimed: Claimed, outcome: anyhow::Result<Ended>) {
    let id = claimed.entry.job.id;
    let ended = match outcome {
        Ok(_) => {
            claimed.entry.job.state = ImportState::Done;
            claimed.entry.job.finished_at = Some(now());
            claimed.entry.owner = None;
            RunOutcome::Done
        }
        Err(err) if unreadable(&err) => {
            tracing::warn!(job = %id, error = format!("{err:#}"), "import failed");
            claimed.fail(format!("{err:#}"));
            RunOutcome::Failed
        }
        Err(err) => {
            let failed = claimed.release_after(format!("{err:#}"));
            let tries = claimed.entry.tries;
            tracing::warn!(job = %id, error = format!("{err:#}"), tries, failed, "import stopped by an error");
            if failed {
                RunOutcome::Failed
            } else {
                RunOutcome::Released
            }
        }
    };
    // Counted as it ends, before it is saved: the error may be an outage the save waits out.
    jobs.count_run(ended);
    let over = ended != RunOutcome::Released;
    match save_end(&mut claimed).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(job = %id, "import end not saved: another ingest took the job over");
            return;
        }
        Err(err) => {
            // Left running: after its heartbeat is stale another run finishes it.
            tracing::warn!(job = %id, error = %err, "import end not saved");
            return;
        }
    }
    if over {
        tracing::info!(job = %id, imported = claimed.entry.job.imported, state = ?claimed.entry.job.state, "import over");
        jobs.discard(id).await;
    }
}

/// Saves a job's end, trying again for a while should NATS not answer (it may be reconnecting:
/// the error that ended the job was often the same outage). `false`: another took it over.
async fn save_end(claimed: &mut Claimed) -> anyhow::Result<bool> {
    let mut tries = 1;
    loop {
        match claimed.save().await {
            Err(err) if tries < END_SAVE_TRIES => {
                tracing::warn!(job = %claimed.entry.job.id, error = %err, "import end not saved yet");
                tries += 1;
                tokio::time::sleep(SAVE_EVERY).await;
            }
            saved => return saved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_file_that_cannot_be_read_fails_a_job_at_once() {
        let unread = anyhow::Error::from(Unreadable("no header".to_owned())).context("opening");
        assert!(unreadable(&unread));
        let io = anyhow::Error::from(std::io::Error::other("connection reset"));
        assert!(!unreadable(&io), "a failed read is tried again");
        assert!(!unreadable(&anyhow::anyhow!(
            "JetStream did not store an event"
        )));
    }
}
