//! What still arrives of an erased person: an event in flight during the erasure, delivered
//! again, or redriven from the dead letters reaches the events writer, which takes it out of
//! its batch unstored ([`Arrivals::take_erased`]), as it does an event naming an erased id as
//! the other id of its link. Its copy in `EVENTS_HISTORY` (which sources it from `EVENTS` a
//! moment after it was published, perhaps after the erasure read that stream) is deleted
//! before its message is acked, so that a crash in between only means it is delivered and
//! swept again. A replay takes the erased events out of what it read and deletes them from
//! the history right away ([`drop_from_replay`]).

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message, consumer::DeliverPolicy};
use contract::event::Event;
use contract::streams::{EVENTS_HISTORY_STREAM, EVENTS_STREAM};
use futures_util::StreamExt as _;
use uuid::Uuid;

use crate::batch::keeping_alive;
use crate::erasure::erased::Erased;
use crate::erasure::scrub::{delete, scrub};
use crate::row::EventRow;

/// How long the history is searched for the copies of a batch's erased events before the
/// sink stops waiting for them: their messages are deleted from `EVENTS` then, so that the
/// history never takes a copy it has not taken yet.
const SWEEP_DEADLINE: Duration = Duration::from_secs(10);

/// The header on a message of `EVENTS_HISTORY` saying which message of `EVENTS` it copies:
/// `<stream> <sequence> …`.
const SOURCE_HEADER: &str = "Nats-Stream-Source";

/// An event of an erased id the writer took out of its batch.
#[derive(Debug)]
struct Dropped {
    subject: String,
    event_id: Uuid,
    sequence: u64,
    published: time::OffsetDateTime,
}

/// What the events writer asks before it stores a batch: the erased ids, and the streams
/// their copies are deleted from.
#[derive(Clone, Debug)]
pub(crate) struct Arrivals {
    js: jetstream::Context,
    erased: Erased,
}

impl Arrivals {
    pub(crate) fn new(js: jetstream::Context, erased: Erased) -> Self {
        Self { js, erased }
    }

    /// Waits until the erased ids are read (nothing may be stored before); false when `stop`
    /// turned true first.
    pub(crate) async fn ready(&self, stop: &tokio::sync::watch::Receiver<bool>) -> bool {
        self.erased.loaded(stop).await
    }

    /// Takes the rows naming an erased id (and their messages) out of a batch, deletes their
    /// copies from the history and then acks them (a message whose copy could not be dealt
    /// with is handed back, to come again); returns how many there were.
    pub(crate) async fn take_erased(
        &self,
        rows: &mut Vec<EventRow>,
        messages: &mut Vec<Message>,
    ) -> usize {
        if !rows.iter().any(|row| self.erased.names_row(row)) {
            return 0;
        }
        let mut kept = (
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
        );
        let (mut theirs, mut dropped) = (Vec::new(), Vec::new());
        for (row, message) in rows.drain(..).zip(messages.drain(..)) {
            if self.erased.names_row(&row) {
                let Ok(info) = message.info() else {
                    // No JetStream message: nothing to find its copy by.
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                    continue;
                };
                dropped.push(Dropped {
                    subject: message.subject.to_string(),
                    event_id: row.event_id,
                    sequence: info.stream_sequence,
                    published: info.published,
                });
                theirs.push(message);
            } else {
                kept.0.push(row);
                kept.1.push(message);
            }
        }
        (*rows, *messages) = kept;
        let swept = keeping_alive(theirs.iter(), sweep(&self.js, &dropped)).await;
        match swept {
            Ok(()) => {
                for message in &theirs {
                    let _ = message.ack().await;
                }
                tracing::info!(
                    dropped = theirs.len(),
                    "events of erased persons were not stored"
                );
            }
            Err(err) => {
                // Delivered again a little later, and swept then.
                tracing::warn!(error = %err, "the copies of erased persons' events stay for now");
                for message in &theirs {
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                        .await;
                }
            }
        }
        theirs.len()
    }
}

/// Deletes the copies in the history of the `dropped` events. A copy is dealt with once it is
/// deleted, or once the history is seen to hold later messages of `EVENTS` than its event
/// without it. What is not dealt with by [`SWEEP_DEADLINE`] (the history is behind, or the
/// last message it took was deleted) is deleted from `EVENTS`, so that no copy is taken of it
/// later, and a copy taken meanwhile is searched for once more.
async fn sweep(js: &jetstream::Context, dropped: &[Dropped]) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let mut pending: Vec<&Dropped> = dropped.iter().collect();
    let mut pause = Duration::from_millis(100);
    loop {
        // Read before the search: whatever the history held by then, the search sees.
        let passed = history_progress(js).await?;
        let found = sweep_once(js, &pending).await?;
        pending.retain(|event| !found.contains(&event.event_id) && event.sequence > passed);
        if pending.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= SWEEP_DEADLINE {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
    let events = js.get_stream(EVENTS_STREAM).await?;
    for event in &pending {
        delete(&events, event.sequence).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    sweep_once(js, &pending).await?;
    Ok(())
}

/// Searches the history for copies of `events`, each on its subject from a little before it
/// was published, and deletes them; returns the event ids of those found.
async fn sweep_once(js: &jetstream::Context, events: &[&Dropped]) -> anyhow::Result<HashSet<Uuid>> {
    let mut found = HashSet::new();
    let subjects: HashSet<&str> = events.iter().map(|event| event.subject.as_str()).collect();
    for subject in subjects {
        let on_subject: Vec<&&Dropped> = events
            .iter()
            .filter(|event| event.subject == subject)
            .collect();
        let ids: HashSet<Uuid> = on_subject.iter().map(|event| event.event_id).collect();
        let Some(earliest) = on_subject.iter().map(|event| event.published).min() else {
            continue;
        };
        let start_time = earliest - time::Duration::seconds(5);
        scrub(
            js,
            EVENTS_HISTORY_STREAM,
            subject.to_owned(),
            DeliverPolicy::ByStartTime { start_time },
            |payload| match serde_json::from_slice::<Event>(payload) {
                Ok(copy) if ids.contains(&copy.event_id) => {
                    found.insert(copy.event_id);
                    true
                }
                _ => false,
            },
        )
        .await?;
    }
    Ok(found)
}

/// The last sequence of `EVENTS` the history holds a copy of (its last message's source
/// header); 0 when it holds none.
async fn history_progress(js: &jetstream::Context) -> anyhow::Result<u64> {
    let mut history = js.get_stream(EVENTS_HISTORY_STREAM).await?;
    if history.info().await?.state.messages == 0 {
        return Ok(0);
    }
    let reader = history
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            deliver_policy: DeliverPolicy::Last,
            ..Default::default()
        })
        .await?;
    let mut messages = reader.messages().await?;
    let last = match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
        Ok(Some(message)) => message?,
        Ok(None) | Err(_) => return Ok(0),
    };
    Ok(source_sequence(
        last.headers
            .as_ref()
            .and_then(|headers| headers.get(SOURCE_HEADER))
            .map_or("", |value| value.as_str()),
    ))
}

/// The sequence in `EVENTS` a source header (`EVENTS 42 > >`, or `EVENTS 42` from older
/// servers) names; 0 when it names none.
fn source_sequence(header: &str) -> u64 {
    let mut parts = header.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(stream), Some(sequence)) if stream.split(':').next() == Some(EVENTS_STREAM) => {
            sequence.parse().unwrap_or(0)
        }
        _ => 0,
    }
}

/// Takes the rows naming an erased id out of what a replay read (each with its sequence in
/// the history), deleting them from the history; returns how many there were.
pub(crate) async fn drop_from_replay(
    js: &jetstream::Context,
    erased: &Erased,
    rows: &mut Vec<EventRow>,
) -> anyhow::Result<u64> {
    let before = rows.len();
    let mut theirs = Vec::new();
    rows.retain(|row| {
        let named = erased.names_row(row);
        if named {
            theirs.push(row.stream_sequence);
        }
        !named
    });
    if !theirs.is_empty() {
        let history = js.get_stream(EVENTS_HISTORY_STREAM).await?;
        for sequence in theirs {
            delete(&history, sequence).await?;
        }
    }
    Ok((before - rows.len()) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_header_names_the_sequence_in_events() {
        assert_eq!(source_sequence("EVENTS 42 > >"), 42);
        assert_eq!(source_sequence("EVENTS:a1b2 7"), 7);
        assert_eq!(source_sequence("OTHER 42"), 0);
        assert_eq!(source_sequence(""), 0);
    }
}
