//! The import worker every ingest runs: it takes a queued job, a running one whose ingest
//! stopped saving it (killed), or one let go (ingest stopped, or a transient error, after its
//! pause), with a compare-and-set on the job's KV revision, so two ingests never run one job;
//! each job runs in a task of its own ([`running`]), watched: one that panics is let go (or
//! failed, as a transient error counts), and the worker's own loop is started again should it
//! end before ingest stops.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use contract::imports::ImportState;
use tokio::sync::watch;

use crate::import::jobs::claimed::{Claimed, backoff};
use crate::import::jobs::running::{self, WINDOW, stopped};
use crate::import::jobs::{Jobs, Kept, now};

/// How often an idle worker looks for jobs (one queued on this ingest wakes it at once).
const LOOK_EVERY: Duration = Duration::from_secs(3);

/// Runs jobs, one at a time, until `stop` says ingest stops.
pub(crate) async fn work(jobs: Jobs, client: async_nats::Client, stop: watch::Receiver<bool>) {
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(WINDOW + 100)
        .build(client);
    loop {
        let looking = tokio::spawn(look(jobs.clone(), js.clone(), stop.clone()));
        match looking.await {
            Ok(()) => return,
            Err(err) => {
                tracing::error!(error = %err, "the import worker ended: started again");
                tokio::time::sleep(LOOK_EVERY).await;
            }
        }
    }
}

/// Claims and runs jobs until `stop`.
async fn look(jobs: Jobs, js: jetstream::Context, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let wait = match claim(&jobs).await {
            Ok(Some(claimed)) => {
                run_watched(&jobs, &js, claimed, stop.clone()).await;
                continue;
            }
            Ok(None) => LOOK_EVERY,
            Err(err) => {
                tracing::warn!(error = %err, "import jobs could not be read");
                LOOK_EVERY
            }
        };
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = tokio::time::timeout(wait, jobs.inner.queued.notified()) => {}
        }
    }
}

/// Runs `claimed` in a task of its own; should it panic, the job is let go as after a
/// transient error.
async fn run_watched(
    jobs: &Jobs,
    js: &jetstream::Context,
    claimed: Claimed,
    stop: watch::Receiver<bool>,
) {
    let (id, key) = (claimed.entry.job.id, claimed.key.clone());
    let task = tokio::spawn(running::run(jobs.clone(), js.clone(), claimed, stop));
    let Err(err) = task.await else {
        return;
    };
    tracing::error!(job = %id, error = %err, "import stopped unexpectedly");
    let (Ok(Some(kept)), Ok(buckets)) = (jobs.entry(&key).await, jobs.buckets().await) else {
        return;
    };
    let ours = kept.entry.owner.as_deref() == Some(jobs.owner());
    if !ours || kept.entry.job.state.finished() {
        return;
    }
    let mut claimed = Claimed::of(kept, buckets.jobs.clone());
    let failed = claimed.release_after(format!("the import stopped unexpectedly: {err}"));
    if matches!(claimed.save().await, Ok(true)) && failed {
        jobs.discard(id).await;
    }
}

/// The oldest job no live ingest runs, taken for this one. A job is another live ingest's while
/// that ingest saves it: its last save (the KV server's time of the entry's revision) is newer
/// than `stale_after`. A job let go after a transient error waits its [`backoff`]. An upload
/// whose ingest stopped saving it is failed, its file deleted.
async fn claim(jobs: &Jobs) -> anyhow::Result<Option<Claimed>> {
    let store = jobs.buckets().await?.jobs.clone();
    let stale_after = jobs.config().stale_after;
    let mut entries = jobs.entries().await?;
    entries.sort_by_key(|kept| kept.entry.job.id);
    for kept in entries {
        let free = match kept.entry.job.state {
            ImportState::Done | ImportState::Failed => false,
            ImportState::Uploading => {
                if kept.stale(stale_after) {
                    abandon_upload(jobs, &store, kept).await;
                }
                continue;
            }
            ImportState::Queued | ImportState::Running => match kept.entry.owner {
                None => kept.entry.tries == 0 || kept.stale(backoff(kept.entry.tries)),
                Some(_) => kept.stale(stale_after),
            },
        };
        if !free {
            continue;
        }
        let mut claimed = Claimed::of(kept, store.clone());
        claimed.entry.owner = Some(jobs.owner().to_owned());
        claimed.entry.job.state = ImportState::Running;
        claimed.entry.job.started_at.get_or_insert_with(now);
        if claimed.save().await? {
            return Ok(Some(claimed));
        }
    }
    Ok(None)
}

/// Fails an upload whose ingest stopped while receiving it, and deletes what it stored.
async fn abandon_upload(jobs: &Jobs, store: &kv::Store, kept: Kept) {
    let id = kept.entry.job.id;
    let mut abandoned = Claimed::of(kept, store.clone());
    abandoned.fail("the upload broke off: the ingest receiving it stopped".to_owned());
    if matches!(abandoned.save().await, Ok(true)) {
        tracing::warn!(job = %id, "upload abandoned by a stopped ingest: failed");
        jobs.discard(id).await;
    }
}
