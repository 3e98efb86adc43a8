//! Reading the jobs' bucket: every job, one job, a project's jobs. A listing goes through one
//! consumer of the bucket's messages, completed by what the stream holds once it is over.

use std::collections::HashMap;

use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, consumer, kv};
use contract::imports::ImportJob;
use futures_util::{StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::import::jobs::{Jobs, Kept, READ_WITHIN};

impl Jobs {
    /// Every job kept.
    pub(crate) async fn entries(&self) -> anyhow::Result<Vec<Kept>> {
        self.matching(">").await
    }

    /// One job as kept, by its key.
    pub(crate) async fn entry(&self, key: &str) -> anyhow::Result<Option<Kept>> {
        leader_kept(&self.buckets().await?.jobs, key).await
    }

    /// The jobs of `project_id`, newest first: the keys `<project_id>.*` alone are read.
    pub(crate) async fn list(&self, project_id: Uuid) -> anyhow::Result<Vec<ImportJob>> {
        let mut jobs: Vec<ImportJob> = self
            .matching(&format!("{project_id}.*"))
            .await?
            .into_iter()
            .map(|kept| kept.entry.job)
            .collect();
        // Ids are UUIDv7: later is larger.
        jobs.sort_by_key(|job| std::cmp::Reverse(job.id));
        Ok(jobs)
    }

    /// One job, whichever its project.
    pub(crate) async fn get(&self, id: Uuid) -> anyhow::Result<Option<ImportJob>> {
        Ok(self
            .matching(&format!("*.{id}"))
            .await?
            .pop()
            .map(|kept| kept.entry.job))
    }

    /// The jobs whose keys match `filter` (NATS wildcards), each as last saved: read through one
    /// ordered consumer of every message the bucket keeps (it keeps one revision per key, so
    /// each key's last) instead of a get per key, then each key the consumer left out read on
    /// its own. A key saved during the read can be left out: the server may remove the revision
    /// it counted before it counts the new one, and then says nothing is left. The keys the
    /// stream holds once the read is over say which were.
    async fn matching(&self, filter: &str) -> anyhow::Result<Vec<Kept>> {
        let jobs = &self.buckets().await?.jobs;
        let subjects = format!("{}{filter}", jobs.prefix);
        let consumer = jobs
            .stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.inner.js.client().new_inbox(),
                filter_subject: subjects.clone(),
                deliver_policy: consumer::DeliverPolicy::All,
                replay_policy: consumer::ReplayPolicy::Instant,
                ..Default::default()
            })
            .await?;
        let mut pending = consumer.cached_info().num_pending;
        let mut messages = consumer.messages().await?;
        // Each key's latest revision read: `None` when it was removed, or holds no job.
        let mut latest: HashMap<String, Option<Kept>> = HashMap::new();
        while pending > 0 {
            // A counted revision removed with none after it (expired, purged) leaves the count
            // above zero for good: what the stream holds, read next, completes the listing.
            let Ok(message) = tokio::time::timeout(READ_WITHIN, messages.next()).await else {
                break;
            };
            let message = message
                .ok_or_else(|| anyhow::anyhow!("the import jobs' reading ended early"))??;
            let info = message.info().map_err(|err| anyhow::anyhow!("{err}"))?;
            pending = info.pending;
            let kept = kept(
                message.headers.as_ref(),
                &message.payload,
                info.stream_sequence,
                info.published,
            );
            latest.insert(message.subject.to_string(), kept);
        }
        let mut held = jobs.stream.info_with_subjects(&subjects).await?;
        while let Some((subject, _)) = held.try_next().await? {
            let Some(key) = subject.strip_prefix(jobs.prefix.as_str()) else {
                continue;
            };
            if latest.contains_key(&subject) {
                continue;
            }
            let kept = leader_kept(jobs, key).await?;
            latest.insert(subject, kept);
        }
        Ok(latest.into_values().flatten().collect())
    }
}

/// The last message of `key` in `store` as the stream's leader has it (a replica's direct
/// answer may lag), a removal's marker too; `None` when the key was never written or is gone.
pub(crate) async fn leader_last(
    store: &kv::Store,
    key: &str,
) -> anyhow::Result<Option<jetstream::message::StreamMessage>> {
    let subject = format!("{}{key}", store.prefix);
    match store.stream.get_last_raw_message_by_subject(&subject).await {
        Ok(message) => Ok(Some(message)),
        Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The job kept under `key` in `store`, as the stream's leader has it.
pub(crate) async fn leader_kept(store: &kv::Store, key: &str) -> anyhow::Result<Option<Kept>> {
    Ok(leader_last(store, key).await?.and_then(|message| {
        kept(
            Some(&message.headers),
            &message.payload,
            message.sequence,
            message.time,
        )
    }))
}

/// The job a message of the jobs' bucket holds (`sequence` its revision, written at
/// `written`); `None` for a removed key, or a value that is no job (a project's slot).
fn kept(
    headers: Option<&async_nats::HeaderMap>,
    payload: &[u8],
    sequence: u64,
    written: OffsetDateTime,
) -> Option<Kept> {
    if headers.is_some_and(|headers| headers.get("KV-Operation").is_some()) {
        return None;
    }
    let entry = serde_json::from_slice(payload).ok()?;
    Some(Kept {
        entry,
        revision: sequence,
        written,
    })
}

#[cfg(test)]
mod tests {
    use devstack::nats::NatsUser;
    use plumbing::metrics::Metrics;

    use super::*;
    use crate::import::Format;
    use crate::import::jobs::ImportConfig;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_listing_sees_every_job_while_they_are_saved() -> anyhow::Result<()> {
        let nats = devstack::test::TestNats::start()?;
        let client = plumbing::streams::connect(nats.url_for(NatsUser::Ingest)).await?;
        let config = ImportConfig::default();
        let jobs = Jobs::new(jetstream::new(client), config, 1, &Metrics::new("ingest"));
        let project = Uuid::now_v7();
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(jobs.register(project, Format::Segment).await?);
        }
        // The jobs saved over and over, as running jobs are every second, while they are
        // listed 50 times.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let saving = tokio::spawn(async move {
            let mut saves = 0_u32;
            while !*stopped.borrow() {
                for job in &mut held {
                    anyhow::ensure!(job.save().await?, "the job is still this test's");
                    saves += 1;
                }
            }
            anyhow::Ok(saves)
        });
        for listing in 0..50 {
            assert_eq!(jobs.list(project).await?.len(), 5, "listing {listing}");
        }
        stop.send(true)?;
        let saves = saving.await??;
        assert!(saves >= 50, "{saves} saves meanwhile");
        Ok(())
    }
}
