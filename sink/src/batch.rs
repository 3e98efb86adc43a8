//! Reading the durable consumer into batches: each message decoded as it arrives, a batch
//! closed when full or when its wait is over, and handed to the writer.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message, consumer::PullConsumer};
use contract::streams::{EVENTS_STREAM, SINK_CONSUMER};
use futures_util::StreamExt as _;
use uuid::Uuid;

use crate::row::EventRow;

/// Batching of the sink.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// Most messages per INSERT (`SINK_BATCH_SIZE`, default 20000): ClickHouse spends per
    /// part it writes and merges, so fewer, larger inserts cost it far less per row.
    pub max_messages: usize,
    /// Longest wait to fill a batch (`SINK_BATCH_WAIT_MS`, default 200).
    pub max_wait_ms: u64,
    /// Deliveries after which a message ClickHouse refuses on its own is dead-lettered (10).
    /// The consumer's `max_deliver` (100) is higher: a long outage can spend a delivery on a
    /// message waiting in the client buffer (one per `ack_wait`), and the server gives up on a
    /// message at its `max_deliver`.
    pub max_deliver: i64,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_messages: 20_000,
            max_wait_ms: 200,
            max_deliver: 10,
        }
    }
}

/// Most messages a batch has room for from the start: the default batch size. A larger
/// `SINK_BATCH_SIZE` grows past it as messages come, rather than reserve hundreds of MiB.
const PREALLOCATED: usize = 20_000;

/// Messages read from the stream, decoded, waiting to be inserted together.
#[derive(Default)]
pub(crate) struct Batch {
    /// Decoded rows, in the order of `messages`.
    pub(crate) rows: Vec<EventRow>,
    pub(crate) messages: Vec<Message>,
    /// Messages that are not events at all, with the reason: they fail on their own whatever
    /// the number of deliveries.
    pub(crate) unreadable: Vec<(Message, String)>,
    /// The event ids of the rows that may already be in the table: delivered before, imported
    /// (an import may run twice), or reached ingest later after it happened than the stream's
    /// duplicate window (a client's late retry, which the stream no longer recognised). Only
    /// these are looked up before the insert; the others are first deliveries. Empty in the
    /// live steady state, so it costs nothing there.
    pub(crate) uncertain: HashSet<Uuid>,
}

impl Batch {
    /// An empty batch with room for `capacity` messages (at most [`PREALLOCATED`]). Grown one
    /// push at a time, the rows and messages of a full batch were copied again and again into
    /// ever larger, freshly faulted-in memory. Room not filled is never touched, so a batch
    /// closed early by its wait costs no memory for it.
    fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.min(PREALLOCATED);
        Self {
            rows: Vec::with_capacity(capacity),
            messages: Vec::with_capacity(capacity),
            ..Self::default()
        }
    }

    fn len(&self) -> usize {
        self.messages.len() + self.unreadable.len()
    }

    /// Adds `message`; `window` is the stream's duplicate window in seconds ([`late`]).
    fn push(&mut self, message: Message, window: u32) {
        let decoded = message
            .info()
            .map_err(|err| err.to_string())
            .and_then(|info| {
                EventRow::decode(&message.payload, info.stream_sequence)
                    .map(|row| (row, info.delivered))
                    .map_err(|err| format!("not an event: {err}"))
            });
        match decoded {
            Ok((row, delivered)) => {
                if delivered > 1 || imported(&message) || late(&row, window) {
                    self.uncertain.insert(row.event_id);
                }
                self.rows.push(row);
                self.messages.push(message);
            }
            Err(reason) => self.unreadable.push((message, reason)),
        }
    }

    /// Every message of the batch, events or not.
    fn all_messages(&self) -> impl Iterator<Item = &Message> + Clone {
        self.messages
            .iter()
            .chain(self.unreadable.iter().map(|(m, _)| m))
    }
}

/// Whether `message` was published by an import ([`contract::streams::IMPORT_HEADER`]).
fn imported(message: &Message) -> bool {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(contract::streams::IMPORT_HEADER))
        .is_some()
}

/// Whether `row` reached ingest more than `window` seconds after it happened: a client's retry
/// can come that late (a browser queue resending after minutes), past the stream's duplicate
/// window, as a second message the stream stores. Its time is that of the first send, its
/// arrival the retry's, so the gap shows it; an event that only waited in the backlog arrived
/// when it happened, however late the sink reads it, and costs no lookup. A client whose clock
/// runs behind, or an SDK that sends what it kept offline, is looked up as well.
fn late(row: &EventRow, window: u32) -> bool {
    row.received_at.saturating_sub(row.timestamp) > window
}

/// Runs `work`, telling the server every [`PROGRESS_EVERY`] meanwhile that `waiting` are still
/// being worked on, so their `ack_wait` restarts without spending a delivery.
pub(crate) async fn keeping_alive<'a, T>(
    waiting: impl Iterator<Item = &'a Message> + Clone,
    work: impl Future<Output = T>,
) -> T {
    let mut keep_alive =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = keep_alive.tick() => {
                for message in waiting.clone() {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        }
    }
}

/// How often a batch that waits (ClickHouse down, or the batch ahead still inserting) is
/// marked in progress; well inside the consumer's 60 s `ack_wait`.
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// Reads the stream into batches of at most `max_messages`, closed `max_wait_ms` after their
/// first message, and hands them to the writer.
pub(crate) async fn read(
    js: jetstream::Context,
    settings: BatchSettings,
    batches: tokio::sync::mpsc::Sender<Batch>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let max_wait = Duration::from_millis(settings.max_wait_ms);
    let mut batch = Batch::with_capacity(settings.max_messages);
    'consumer: while !*stop.borrow() {
        let messages = subscribe(&js, &settings).await;
        let (mut messages, window) = match messages {
            Ok(subscribed) => subscribed,
            Err(err) => {
                tracing::warn!(error = %err, "sink consumer not available yet");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        // One timer, reset when a batch starts: a timer made anew for every message registers
        // with the runtime's timer wheel (and wakes its driver) once per message. A batch read
        // before a resubscription is handed over at once.
        let closes = tokio::time::sleep(if batch.len() > 0 {
            Duration::ZERO
        } else {
            max_wait
        });
        tokio::pin!(closes);
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break 'consumer,
                () = &mut closes, if batch.len() > 0 => {
                    let full = std::mem::replace(&mut batch, Batch::with_capacity(settings.max_messages));
                    if hand_over(&batches, full).await.is_err() {
                        return;
                    }
                }
                next = messages.next() => match next {
                    Some(Ok(message)) => {
                        if batch.len() == 0 {
                            closes.as_mut().reset(tokio::time::Instant::now() + max_wait);
                        }
                        batch.push(message, window);
                        if batch.len() >= settings.max_messages {
                            let full = std::mem::replace(
                                &mut batch,
                                Batch::with_capacity(settings.max_messages),
                            );
                            if hand_over(&batches, full).await.is_err() {
                                return;
                            }
                        }
                    }
                    Some(Err(err)) => {
                        tracing::warn!(error = %err, "reading the sink consumer; resubscribing");
                        continue 'consumer;
                    }
                    None => continue 'consumer,
                },
            }
        }
    }
    // Stopping: what was read is still stored and acked.
    if batch.len() > 0 {
        let _ = hand_over(&batches, batch).await;
    }
}

/// A continuous pull from the durable consumer: the client asks for the next messages before
/// the previous ones are used up. With the stream's duplicate window in seconds ([`window`]).
async fn subscribe(
    js: &jetstream::Context,
    settings: &BatchSettings,
) -> Result<(jetstream::consumer::pull::Stream, u32), async_nats::Error> {
    let stream = js.get_stream(EVENTS_STREAM).await?;
    let window = window(stream.cached_info().config.duplicate_window).as_secs();
    let consumer: PullConsumer = stream.get_consumer(SINK_CONSUMER).await?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(settings.max_messages)
        .expires(Duration::from_secs(30))
        .heartbeat(Duration::from_secs(10))
        .messages()
        .await?;
    Ok((messages, u32::try_from(window).unwrap_or(u32::MAX)))
}

/// The stream's duplicate window as the server has it, or as this release defines it when that
/// is shorter: a stream an earlier release made keeps its longer window until provisioning
/// narrows it, and a retry the new window does not recognise must be looked up from the start.
fn window(on_server: Duration) -> Duration {
    plumbing::streams::Definitions::bundled()
        .ok()
        .and_then(|definitions| {
            definitions
                .streams
                .into_iter()
                .find(|stream| stream.name == EVENTS_STREAM)
        })
        .map_or(on_server, |defined| defined.duplicate_window.min(on_server))
}

/// Waits for room in the channel, keeping the batch's messages from being redelivered while
/// it waits. Fails only when the writer is gone.
async fn hand_over(batches: &tokio::sync::mpsc::Sender<Batch>, batch: Batch) -> Result<(), ()> {
    let permit = keeping_alive(batch.all_messages(), batches.reserve()).await;
    permit.map_err(|_| ())?.send(batch);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::event::Event;

    fn row(happened: &str, arrived: &str) -> EventRow {
        let event: Event = serde_json::from_value(serde_json::json!({
            "event_id": uuid::Uuid::nil(), "project_id": uuid::Uuid::nil(), "kind": "track",
            "event": "e", "distinct_id": "u", "timestamp": happened, "received_at": arrived,
        }))
        .expect("an event");
        EventRow::new(event, 1)
    }

    #[test]
    fn a_longer_window_on_the_server_counts_as_this_releases_until_provisioning_narrows_it() {
        let defined = window(Duration::MAX);
        assert!(defined < Duration::from_secs(120), "{defined:?}");
        assert_eq!(window(Duration::from_secs(120)), defined);
        assert_eq!(window(Duration::from_secs(1)), Duration::from_secs(1));
    }

    #[test]
    fn only_an_event_that_reached_ingest_past_the_window_after_it_happened_is_late() {
        let window = 120;
        assert!(!late(
            &row("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            window
        ));
        assert!(!late(
            &row("2024-01-01T00:00:00Z", "2024-01-01T00:02:00Z"),
            window
        ));
        assert!(late(
            &row("2024-01-01T00:00:00Z", "2024-01-01T00:02:01Z"),
            window
        ));
        assert!(
            !late(&row("2024-01-01T00:05:00Z", "2024-01-01T00:00:00Z"), window),
            "a client clock ahead"
        );
    }
}
