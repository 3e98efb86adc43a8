//! Writing the batches the reader hands over: one at a time, each message acked only after
//! ClickHouse confirmed the insert that holds it; copies of a stored event are acked
//! unwritten, a failing insert retried, and rows ClickHouse refuses split out and dead-lettered.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::batch::{Batch, BatchSettings, PROGRESS_EVERY, keeping_alive};
use crate::dlq::dead_letter;
use crate::erasure::arrivals::Arrivals;
use crate::metrics::SinkCounters;
use crate::persons::PersonKeys;
use crate::recent::RecentIds;
use crate::row::EventRow;
use crate::sessions::Sessions;
use crate::stored::{Uncertain, take_out, take_stored};
use crate::table::insert;

/// How long ClickHouse may answer the sessions' lookup with an error (rather than not at all)
/// before a batch gets its sessions from what the sink remembers alone.
const REFUSED_LOOKUP: Duration = Duration::from_secs(60);

/// The most links a batch's span carries (the OpenTelemetry SDK keeps 128 by default).
const MAX_LINKS: usize = 128;

/// A header of `message`, empty when it has none.
fn header<'a>(message: &'a Message, name: &str) -> &'a str {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(name))
        .map_or("", |value| value.as_str())
}

/// At debug level, one line per stored event with the request id and trace id ingest copied
/// into its message headers: the last link from the browser to ClickHouse. Each line is in an
/// `event_stored` span whose parent is the request's span, so an exported trace ends there.
fn log_stored(rows: &[EventRow], messages: &[Message]) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    for (row, message) in rows.iter().zip(messages) {
        let traceparent = header(message, contract::streams::TRACEPARENT_HEADER);
        let trace_id =
            plumbing::traceparent::parse(traceparent).map_or("", |parsed| parsed.trace_id);
        let span = tracing::debug_span!("event_stored", event_id = %row.event_id);
        plumbing::telemetry::set_remote_parent(&span, traceparent);
        span.in_scope(|| {
            tracing::debug!(
                event_id = %row.event_id,
                request_id = header(message, contract::streams::REQUEST_ID_HEADER),
                trace_id,
                "event stored"
            );
        });
    }
}

/// What the writer follows of the persons' consumer: the erased persons, whose events it
/// drops, and the persons' mapping, whose merges its sessions see at once (the consumer drops
/// the answers a merge changed).
pub(crate) struct Following {
    pub(crate) arrivals: Arrivals,
    pub(crate) persons: PersonKeys,
}

/// Stores the batches the reader hands over, one at a time, until the reader is done.
pub(crate) async fn write(
    js: jetstream::Context,
    clickhouse: clickhouse::Client,
    settings: BatchSettings,
    counters: SinkCounters,
    mut queued: tokio::sync::mpsc::Receiver<Batch>,
    stop: tokio::sync::watch::Receiver<bool>,
    following: Following,
) {
    let Following { arrivals, persons } = following;
    let recent = std::sync::Mutex::new(RecentIds::default());
    let mut sessions = Sessions::following(persons, counters.session_persons_looked_up.clone());
    while let Some(mut batch) = queued.recv().await {
        for (message, reason) in &batch.unreadable {
            dead_letter(&js, &counters, message, reason).await;
        }
        // What an erased person still sends is dropped before anything learns of it.
        arrivals
            .take_erased(&mut batch.rows, &mut batch.messages)
            .await;
        let writer = Writer {
            js: &js,
            clickhouse: &clickhouse,
            settings: &settings,
            counters: &counters,
            stop: &stop,
            recent: &recent,
            arrivals: &arrivals,
        };
        // Exported, the batch's span links to the requests whose events it stores (ingest's
        // spans, from the `traceparent` of each message).
        let span = tracing::info_span!("store_batch", rows = batch.rows.len());
        plumbing::telemetry::link_remote(
            &span,
            batch
                .messages
                .iter()
                .map(|message| header(message, contract::streams::TRACEPARENT_HEADER)),
            MAX_LINKS,
        );
        // One insert per month (the table's partition), so that no insert spans more months
        // than current ClickHouse takes in one block; the months waiting their turn are kept
        // from being redelivered meanwhile. A message delivered before may already be in the
        // table: those rows (only) are looked up first.
        let uncertain = std::mem::take(&mut batch.uncertain);
        let sessions = &mut sessions;
        async {
            if !writer
                .give_sessions(sessions, &mut batch.rows, &batch.messages, &uncertain)
                .await
            {
                return;
            }
            let mut parts = crate::months::split(batch.rows, batch.messages).into_iter();
            while let Some((rows, messages)) = parts.next() {
                let store = writer.store(rows, messages, Uncertain::Only(&uncertain));
                if parts.len() == 0 {
                    store.await;
                } else {
                    let waiting = parts.as_slice().iter().flat_map(|(_, messages)| messages);
                    keeping_alive(waiting, store).await;
                }
            }
        }
        .instrument(span)
        .await;
    }
}

struct Writer<'a> {
    js: &'a jetstream::Context,
    clickhouse: &'a clickhouse::Client,
    settings: &'a BatchSettings,
    counters: &'a SinkCounters,
    stop: &'a tokio::sync::watch::Receiver<bool>,
    /// Event ids this sink stored last.
    recent: &'a std::sync::Mutex<RecentIds>,
    /// The erased persons, whose events are never stored.
    arrivals: &'a Arrivals,
}

impl Writer<'_> {
    /// Inserts `rows` and acks their messages. The rows that may already be stored
    /// (`uncertain`: late, imported or redelivered rows; all of them after an attempt whose
    /// outcome is unknown) are looked up, and those already in the table are acked without
    /// being written again, so no event is ever stored twice.
    /// ClickHouse unavailable or overloaded: the same insert is retried with backoff for as
    /// long as it takes, the messages marked in progress (no delivery spent, nothing acked).
    /// ClickHouse rejecting the data: the batch is split until the rows that fail on their own
    /// are found; such a row is naked for a later delivery, and dead-lettered on its last.
    async fn store(
        &self,
        mut rows: Vec<EventRow>,
        mut messages: Vec<Message>,
        mut uncertain: Uncertain<'_>,
    ) {
        // Copies of one event (in this batch, or just stored by this sink) are acked unwritten.
        let copies = self.drop_copies(&mut rows, &mut messages);
        if !copies.is_empty() {
            self.counters.already_stored.inc_by(copies.len() as u64);
            tracing::info!(
                copies = copies.len(),
                "copies of one event were not written twice"
            );
        }
        for message in copies {
            let _ = message.ack().await;
        }
        if rows.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(200);
        let mut marked = tokio::time::Instant::now();
        loop {
            let started = std::time::Instant::now();
            let err = match self.attempt(&mut rows, &mut messages, uncertain).await {
                Ok(()) => {
                    self.stored(&rows, messages, started).await;
                    return;
                }
                Err(err) => err,
            };
            // Part of the batch may have been written before the failure.
            uncertain = Uncertain::All;
            self.counters.insert_failures.inc();
            if crate::refusals::is_rejection(&err) {
                if rows.len() > 1 {
                    let half = rows.len() / 2;
                    let (later_rows, later_messages) =
                        (rows.split_off(half), messages.split_off(half));
                    Box::pin(self.store(rows, messages, Uncertain::All)).await;
                    Box::pin(self.store(later_rows, later_messages, Uncertain::All)).await;
                } else {
                    self.reject(&messages, &err.to_string()).await;
                }
                return;
            }
            if *self.stop.borrow() {
                // Shutting down during an outage: hand the batch back for the next sink.
                for message in &messages {
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                }
                return;
            }
            tracing::warn!(error = %err, rows = rows.len(), "insert failed; retrying the batch");
            if marked.elapsed() >= PROGRESS_EVERY {
                for message in &messages {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
                marked = tokio::time::Instant::now();
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// One try at writing `rows`. The rows `uncertain` covers that the table already holds are
    /// first taken out and their messages acked; the rest is inserted.
    async fn attempt(
        &self,
        rows: &mut Vec<EventRow>,
        messages: &mut Vec<Message>,
        uncertain: Uncertain<'_>,
    ) -> Result<(), clickhouse::error::Error> {
        // Asked again before every try: a person erased while the batch waited stays out.
        self.arrivals.take_erased(rows, messages).await;
        if rows.is_empty() {
            return Ok(());
        }
        let copies = take_stored(self.clickhouse, self.counters, rows, messages, uncertain).await?;
        if !copies.is_empty() {
            self.counters.already_stored.inc_by(copies.len() as u64);
            tracing::info!(
                skipped = copies.len(),
                "rows already stored were not written again"
            );
            for message in copies {
                let _ = message.ack().await;
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        insert(self.clickhouse, rows).await
    }

    /// Gives the batch's rows their sessions ([`Sessions::assign`]), retrying while ClickHouse
    /// does not answer the lookup, the messages kept from redelivery meanwhile. A lookup that
    /// ClickHouse itself keeps refusing for [`REFUSED_LOOKUP`] is done without, rather than
    /// stall the stream. False when the sink stops first: the messages are handed back.
    async fn give_sessions(
        &self,
        sessions: &mut Sessions,
        rows: &mut [EventRow],
        messages: &[Message],
        uncertain: &HashSet<Uuid>,
    ) -> bool {
        let mut backoff = Duration::from_millis(200);
        let mut refused_since = None;
        let retrying = async {
            loop {
                let looked_up = |row: &EventRow| uncertain.contains(&row.event_id);
                let err = match sessions.assign(self.clickhouse, rows, looked_up).await {
                    Ok(()) => return true,
                    Err(err) => err,
                };
                if let clickhouse::error::Error::BadResponse(_) = err {
                    let since = *refused_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= REFUSED_LOOKUP {
                        tracing::error!(error = %err, "ClickHouse keeps refusing the sessions lookup; sessions given from memory");
                        sessions.assign_unlooked(rows);
                        return true;
                    }
                }
                if *self.stop.borrow() {
                    for message in messages {
                        let _ = message.ack_with(AckKind::Nak(None)).await;
                    }
                    return false;
                }
                tracing::warn!(error = %err, "looking up sessions failed; retrying");
                let mut stop = self.stop.clone();
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        };
        keeping_alive(messages.iter(), retrying).await
    }

    /// `rows` are in the table (the write began at `started`): counted, remembered, and their
    /// messages acked.
    async fn stored(&self, rows: &[EventRow], messages: Vec<Message>, started: std::time::Instant) {
        self.counters.rows_inserted.inc_by(rows.len() as u64);
        self.counters.batch_rows.observe(rows.len() as f64);
        self.counters
            .insert_seconds
            .observe(started.elapsed().as_secs_f64());
        log_stored(rows, &messages);
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remember(rows.iter().map(|row| row.event_id));
        // Plain acks, sent back to back without waiting for each confirmation: an ack lost on
        // the way only means a redelivery, which the table deduplicates by event id.
        for message in messages {
            if let Err(err) = message.ack().await {
                tracing::warn!(error = %err, "ack failed after insert");
            }
        }
    }

    /// Takes out of the batch the rows whose event this sink just stored, and the second copy of
    /// an event inside the batch; returns their messages.
    fn drop_copies(&self, rows: &mut Vec<EventRow>, messages: &mut Vec<Message>) -> Vec<Message> {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        let mut is_copy =
            |row: &EventRow| recent.contains(&row.event_id) || !seen.insert(row.event_id);
        // Copies are rare: the batch is rebuilt only from the first one on.
        let Some(first) = rows.iter().position(&mut is_copy) else {
            return Vec::new();
        };
        let mut later_rows = rows.split_off(first);
        let mut later_messages = messages.split_off(first);
        let mut copies = vec![later_messages.remove(0)];
        later_rows.remove(0);
        copies.extend(take_out(&mut later_rows, &mut later_messages, is_copy));
        rows.append(&mut later_rows);
        messages.append(&mut later_messages);
        copies
    }

    /// One row ClickHouse refused on its own: retried on a later delivery, dead-lettered on
    /// its last.
    async fn reject(&self, messages: &[Message], reason: &str) {
        for message in messages {
            let delivered = message.info().map(|info| info.delivered).unwrap_or(0);
            if delivered >= self.settings.max_deliver {
                dead_letter(self.js, self.counters, message, reason).await;
            } else {
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
            }
        }
    }
}
