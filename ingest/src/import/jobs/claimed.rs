//! A job this ingest holds ([`Claimed`]): saved with a compare-and-set on its KV revision, so
//! a save that finds another revision means another ingest took the job over, unless that
//! revision is one of its own saves that timed out and landed later; and how a job ends when
//! it fails, or is let go after a transient error.

use std::time::Duration;

use async_nats::jetstream::kv;
use contract::imports::{ImportError, ImportState};

use crate::import::jobs::{Entry, Kept, key_of, now, now_ms};

/// Runs a job may end in a transient error before it fails.
const MAX_TRIES: u32 = 5;

/// How long a job released after `tries` transient errors waits before it is run again.
pub(crate) fn backoff(tries: u32) -> Duration {
    Duration::from_secs(1 << tries.min(6))
}

/// A job this ingest holds: its entry as last saved, and that save's revision.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) key: String,
    pub(crate) entry: Entry,
    pub(crate) revision: u64,
    pub(crate) store: kv::Store,
    /// The saves since the last that succeeded which failed without an answer (NATS away), the
    /// first [`IN_DOUBT_KEPT`] of them: the client still sends what it held once NATS is back,
    /// so one of them may land after all.
    in_doubt: Vec<Vec<u8>>,
}

/// Saves of unknown outcome a [`Claimed`] remembers. They all expect the same revision, so the
/// first of them to reach the server is the one that lands, and the client sends what it held in
/// order: the oldest are kept.
const IN_DOUBT_KEPT: usize = 64;

impl Claimed {
    /// The job as `kept` in `store`.
    pub(crate) fn of(kept: Kept, store: kv::Store) -> Self {
        Self::new(key_of(&kept.entry.job), kept.entry, kept.revision, store)
    }

    pub(crate) fn new(key: String, entry: Entry, revision: u64, store: kv::Store) -> Self {
        Self {
            key,
            entry,
            revision,
            store,
            in_doubt: Vec::new(),
        }
    }

    /// Saves the entry if it is still this ingest's; `false` when another took it over.
    pub(crate) async fn save(&mut self) -> anyhow::Result<bool> {
        self.entry.heartbeat_ms = now_ms();
        let value = serde_json::to_vec(&self.entry)?;
        loop {
            match self
                .store
                .update(&self.key, value.clone().into(), self.revision)
                .await
            {
                Ok(revision) => {
                    self.revision = revision;
                    self.in_doubt.clear();
                    return Ok(true);
                }
                Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    match self.landed_in_doubt().await? {
                        Some(revision) => self.revision = revision,
                        None => return Ok(false),
                    }
                }
                Err(err) => {
                    if self.in_doubt.len() < IN_DOUBT_KEPT {
                        self.in_doubt.push(value);
                    }
                    return Err(err.into());
                }
            }
        }
    }

    /// The revision of the job as kept, when it is one of this claim's saves in doubt (it landed
    /// after all, so the job is still this ingest's); `None` when another wrote it.
    async fn landed_in_doubt(&mut self) -> anyhow::Result<Option<u64>> {
        if self.in_doubt.is_empty() {
            return Ok(None);
        }
        let Some(kept) = self.store.entry(self.key.as_str()).await? else {
            self.in_doubt.clear();
            return Ok(None);
        };
        // A replica behind may answer the read: tried again at the next save, not taken for
        // another ingest's write.
        anyhow::ensure!(
            kept.revision > self.revision,
            "the job read back at revision {}, before its last save's {}",
            kept.revision,
            self.revision
        );
        let ours = self
            .in_doubt
            .iter()
            .any(|value| value.as_slice() == kept.value.as_ref());
        self.in_doubt.clear();
        Ok(ours.then_some(kept.revision))
    }

    /// Ends the job failed with `error`, held by nobody.
    pub(crate) fn fail(&mut self, error: String) {
        let job = &mut self.entry.job;
        job.state = ImportState::Failed;
        job.finished_at = Some(now());
        job.errors.push(ImportError { line: 0, error });
        self.entry.owner = None;
    }

    /// Lets the job go after a transient `error`: held by nobody at its saved offset, for any
    /// ingest to run again after [`backoff`]; failed once it has ended so [`MAX_TRIES`] times.
    /// Whether it failed.
    pub(crate) fn release_after(&mut self, error: String) -> bool {
        self.entry.tries += 1;
        if self.entry.tries >= MAX_TRIES {
            self.fail(format!("{error} (after {MAX_TRIES} tries)"));
            return true;
        }
        self.entry.last_error = Some(error);
        self.entry.owner = None;
        false
    }
}
