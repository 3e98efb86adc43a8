//! What still arrives of an erased person: an event in flight during the erasure, delivered
//! again, or redriven from the dead letters reaches the events writer, which takes it out of
//! its batch unstored ([`Arrivals::take_erased`]) and acks it; its copy in `EVENTS_HISTORY` (made when
//! it was published, perhaps after the erasure read that stream) is then found by its time
//! and id and deleted ([`Sweeper`]). A replay takes the erased events out of what it read and
//! deletes them from the history right away ([`drop_from_replay`]).

use std::time::Duration;

use async_nats::jetstream::{self, Message, consumer::DeliverPolicy};
use contract::event::Event;
use contract::streams::EVENTS_HISTORY_STREAM;
use uuid::Uuid;

use crate::erasure::erased::Erased;
use crate::erasure::scrub::{delete, scrub};
use crate::row::EventRow;

/// Events waiting for their copies to be swept; past it, a copy is left to the next erasure
/// of the person (or a replay), and a warning says so.
const QUEUED: usize = 10_000;

/// How often the history is searched for a copy before the sweeper gives up on it: the
/// history takes its copy a moment after the event is published.
const ATTEMPTS: u32 = 6;

/// An event of an erased id the writer dropped.
#[derive(Debug)]
struct Dropped {
    subject: String,
    event_id: Uuid,
    published: time::OffsetDateTime,
}

/// Deletes the copies in `EVENTS_HISTORY` of the events the writer dropped; clones share one
/// queue.
#[derive(Clone, Debug)]
struct Sweeper {
    queue: tokio::sync::mpsc::Sender<Dropped>,
}

impl Sweeper {
    /// A sweeper working on `js` until every clone is dropped.
    fn start(js: jetstream::Context) -> Self {
        let (queue, mut dropped) = tokio::sync::mpsc::channel::<Dropped>(QUEUED);
        tokio::spawn(async move {
            while let Some(event) = dropped.recv().await {
                sweep(&js, &event).await;
            }
        });
        Self { queue }
    }

    fn later(&self, message: &Message, event_id: Uuid) {
        let Ok(info) = message.info() else {
            return;
        };
        let dropped = Dropped {
            subject: message.subject.to_string(),
            event_id,
            published: info.published,
        };
        if self.queue.try_send(dropped).is_err() {
            tracing::warn!(%event_id, "the copy of an erased person's event stays in the history");
        }
    }
}

/// Searches the history for the copy of `event` from a little before it was published, and
/// deletes it; searches again while the copy may still be on its way.
async fn sweep(js: &jetstream::Context, event: &Dropped) {
    let start_time = event.published - time::Duration::seconds(5);
    let mut pause = Duration::from_millis(500);
    for _ in 0..ATTEMPTS {
        let swept = scrub(
            js,
            EVENTS_HISTORY_STREAM,
            event.subject.clone(),
            DeliverPolicy::ByStartTime { start_time },
            |payload| {
                serde_json::from_slice::<Event>(payload)
                    .is_ok_and(|copy| copy.event_id == event.event_id)
            },
        )
        .await;
        match swept {
            Ok(found) if found > 0 => return,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "sweeping the history"),
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// What the events writer asks before it stores a batch: the erased ids, and the sweeper of
/// the copies of what it drops.
#[derive(Clone, Debug)]
pub(crate) struct Arrivals {
    erased: Erased,
    sweeper: Sweeper,
}

impl Arrivals {
    pub(crate) fn new(js: jetstream::Context, erased: Erased) -> Self {
        Self {
            sweeper: Sweeper::start(js),
            erased,
        }
    }

    /// Waits until the erased ids are read (nothing may be stored before); false when `stop`
    /// turned true first.
    pub(crate) async fn ready(&self, stop: &tokio::sync::watch::Receiver<bool>) -> bool {
        self.erased.loaded(stop).await
    }

    /// Takes the rows of erased ids (and their messages) out of a batch, acks those messages
    /// and has their copies in the history deleted; returns how many there were.
    pub(crate) async fn take_erased(
        &self,
        rows: &mut Vec<EventRow>,
        messages: &mut Vec<Message>,
    ) -> usize {
        let erased = &self.erased;
        let theirs = |row: &EventRow| {
            erased.has_project(row.project_id) && erased.contains(row.project_id, &row.distinct_id)
        };
        if !rows.iter().any(theirs) {
            return 0;
        }
        let mut kept = (
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
        );
        let mut dropped = 0;
        for (row, message) in rows.drain(..).zip(messages.drain(..)) {
            if theirs(&row) {
                let _ = message.ack().await;
                self.sweeper.later(&message, row.event_id);
                dropped += 1;
            } else {
                kept.0.push(row);
                kept.1.push(message);
            }
        }
        (*rows, *messages) = kept;
        tracing::info!(dropped, "events of erased persons were not stored");
        dropped
    }
}

/// Takes the rows of erased ids out of what a replay read (each with its sequence in the
/// history), deleting them from the history; returns how many there were.
pub(crate) async fn drop_from_replay(
    js: &jetstream::Context,
    erased: &Erased,
    rows: &mut Vec<EventRow>,
) -> anyhow::Result<u64> {
    let before = rows.len();
    let mut theirs = Vec::new();
    rows.retain(|row| {
        let erased =
            erased.has_project(row.project_id) && erased.contains(row.project_id, &row.distinct_id);
        if erased {
            theirs.push(row.stream_sequence);
        }
        !erased
    });
    if !theirs.is_empty() {
        let history = js.get_stream(EVENTS_HISTORY_STREAM).await?;
        for sequence in theirs {
            delete(&history, sequence).await?;
        }
    }
    Ok((before - rows.len()) as u64)
}
