//! Running one erasure, as the persons consumer hands it over in stream order after the links
//! before it. The steps, each safe to run again, so that an erasure interrupted (a crash, a
//! restart, ClickHouse down) is resumed from the start when its message comes again:
//!
//! 1. the person's ids, from `person_ids` as the links before the erasure made it;
//! 2. their keyed hashes recorded (from now on every sink drops what still arrives of them);
//! 3. their `person_ids` rows marked erased: reads no longer join the ids into one person,
//!    but still count their events until step 5 (each id, falling back to its own hash, then
//!    counts as a user of its own);
//! 4. their messages deleted from `PERSONS`, `EVENTS`, `EVENTS_HISTORY` and `EVENTS_DLQ`;
//! 5. their rows deleted from `sessions`, `events`, `person_properties`, then `person_ids` (the
//!    last, as it is how step 1 finds the ids again), each waited for; before `person_ids`,
//!    every day of the project counts one more change in `event_days`;
//! 6. the erasure's own message deleted (it holds the id in clear), then acked.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message, consumer::DeliverPolicy};
use contract::persons::{Erasure, Link};
use contract::streams::{
    EVENTS_DLQ_STREAM, EVENTS_HISTORY_STREAM, EVENTS_STREAM, PERSONS_STREAM, dlq_subject,
    person_link_subject,
};

use crate::batch::keeping_alive;
use crate::erasure::erased::Erased;
use crate::erasure::scrub::{PersonMessages, delete, scrub};
use crate::erasure::tables::Tables;
use crate::persons::PersonKeys;
use crate::schema::Layout;

/// What the persons consumer needs to run erasures and to drop the links of erased ids.
#[derive(Clone)]
pub(crate) struct Eraser {
    js: jetstream::Context,
    tables: Tables,
    erased: Erased,
    keys: PersonKeys,
}

/// What one erasure removed, for the log.
#[derive(Debug, Default)]
struct Removed {
    ids: usize,
    links: u64,
    events: u64,
    history: u64,
    dead_letters: u64,
}

impl Eraser {
    pub(crate) fn new(
        js: jetstream::Context,
        clickhouse: clickhouse::Client,
        layout: Layout,
        erased: Erased,
        keys: PersonKeys,
    ) -> Self {
        Self {
            js,
            tables: Tables { clickhouse, layout },
            erased,
            keys,
        }
    }

    /// The erased ids this eraser records to.
    pub(crate) fn erased(&self) -> &Erased {
        &self.erased
    }

    /// When `link` names an erased id: deletes its message from `PERSONS` and acks it
    /// unapplied (true). A link of a person erased arrives when it was in flight during the
    /// erasure, or is delivered again.
    pub(crate) async fn drop_link(&self, message: &Message, link: &Link, sequence: u64) -> bool {
        let project = link.project_id;
        if !self.erased.contains(project, &link.distinct_id)
            && !self.erased.contains(project, &link.other_id)
        {
            return false;
        }
        match self.delete_request(sequence).await {
            Ok(()) => {
                let _ = message.double_ack().await;
                tracing::info!(sequence, "a link of an erased person was dropped");
            }
            Err(err) => {
                // Delivered again a little later, to be deleted then.
                tracing::warn!(sequence, error = %err, "a link of an erased person stays for now");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                    .await;
            }
        }
        true
    }

    /// Runs the erasure `message` asks for and acks it once everything is done; while
    /// ClickHouse or NATS fails, tries again in place (no later link passes it). False when
    /// the sink stopped first (the message is handed back, to be resumed).
    pub(crate) async fn handle(
        &self,
        message: &Message,
        sequence: u64,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let erasure = match serde_json::from_slice::<Erasure>(&message.payload) {
            Ok(erasure) => Some(erasure),
            Err(_) => {
                // Nobody can act on it, and it may hold an id: it goes. The reason is not
                // logged, as serde's message may quote the payload.
                tracing::warn!(sequence, "an unreadable erasure request: deleted");
                None
            }
        };
        let mut backoff = Duration::from_millis(500);
        loop {
            let work = async {
                match &erasure {
                    Some(erasure) => self.erase(erasure, sequence).await.map(Some),
                    None => self.delete_request(sequence).await.map(|()| None),
                }
            };
            let outcome = tokio::select! {
                outcome = keeping_alive(std::iter::once(message), work) => outcome,
                () = stopped(stop.clone()) => {
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                    return false;
                }
            };
            match (outcome, &erasure) {
                (Ok(removed), Some(erasure)) => {
                    let removed = removed.unwrap_or_default();
                    tracing::info!(
                        erasure_id = %erasure.erasure_id,
                        project_id = %erasure.project_id,
                        ids = removed.ids,
                        links = removed.links,
                        events = removed.events,
                        history = removed.history,
                        dead_letters = removed.dead_letters,
                        "person erased"
                    );
                    break;
                }
                (Ok(_), None) => break,
                (Err(err), _) => {
                    tracing::warn!(sequence, error = %err, "erasure failed; trying again");
                }
            }
            let waited = keeping_alive(std::iter::once(message), tokio::time::sleep(backoff));
            tokio::select! {
                () = waited => {}
                () = stopped(stop.clone()) => {
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                    return false;
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        if let Err(err) = message.double_ack().await {
            // Deleted already: a redelivery finds nothing to deliver.
            tracing::warn!(sequence, error = %err, "ack of an erasure failed");
        }
        true
    }

    /// Every step of the module's list but the ack.
    async fn erase(&self, erasure: &Erasure, sequence: u64) -> anyhow::Result<Removed> {
        let project = erasure.project_id;
        let (person_key, ids) = self
            .tables
            .person_ids(project, &erasure.distinct_id, sequence)
            .await?;
        self.erased
            .record(project, &ids, erasure.erasure_id)
            .await?;
        self.keys.forget(project);
        self.tables
            .mark_erased(project, &person_key, &ids, sequence)
            .await?;
        let mut person = PersonMessages {
            ids: ids.iter().cloned().collect::<HashSet<_>>(),
            ..PersonMessages::default()
        };
        let project_text = project.to_string();
        let links = scrub(
            &self.js,
            PERSONS_STREAM,
            person_link_subject(&project_text),
            DeliverPolicy::All,
            |payload| person.take_link(payload),
        )
        .await?;
        let events_filter = format!("events.{project_text}.>");
        let theirs = |payload: &[u8]| person.holds_event(payload);
        let mut removed = Removed {
            ids: ids.len(),
            links,
            ..Removed::default()
        };
        for (stream, filter, count) in [
            (EVENTS_STREAM, events_filter.clone(), &mut removed.events),
            (EVENTS_HISTORY_STREAM, events_filter, &mut removed.history),
            (
                EVENTS_DLQ_STREAM,
                dlq_subject(&project_text),
                &mut removed.dead_letters,
            ),
        ] {
            *count = scrub(&self.js, stream, filter, DeliverPolicy::All, theirs).await?;
        }
        self.tables.erase_rows(project, &ids).await?;
        self.keys.forget(project);
        self.delete_request(sequence).await?;
        Ok(removed)
    }

    /// Deletes message `sequence` (the erasure's own, or a link of an erased id) from
    /// `PERSONS`.
    async fn delete_request(&self, sequence: u64) -> anyhow::Result<()> {
        delete(&self.js.get_stream(PERSONS_STREAM).await?, sequence).await
    }
}

/// Completes when `stop` turns true.
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
