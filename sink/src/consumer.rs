//! The consuming loop: read the durable consumer `sink-clickhouse` continuously, write each
//! batch with one RowBinary INSERT per month it spans (one, for live events; see the
//! `months` module), and ack every message only after ClickHouse confirmed the insert. One
//! insert runs at a time while the next batch fills. ClickHouse down or overloaded: the batch
//! is retried until it is stored (the consumer keeps its place, nothing is dropped or acked).
//! ClickHouse refusing rows for their contents: the batch is split until those rows are found,
//! and the rest is stored. A message that cannot be stored on its own after its last delivery,
//! or that cannot even be read, goes to `EVENTS_DLQ` with the error in a header.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, Message, consumer::PullConsumer};
use contract::event::Event;
use contract::streams::{EVENTS_STREAM, SINK_CONSUMER, dlq_subject};
use futures_util::StreamExt as _;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use serde::Serialize;
use tracing::Instrument as _;
use uuid::Uuid;

/// Header of a dead-lettered message: why it could not be stored.
pub const ERROR_HEADER: &str = "Sink-Error";

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

/// What the sink counts.
#[derive(Debug, Clone)]
pub struct SinkCounters {
    pub rows_inserted: Counter<u64>,
    pub dead_lettered: Counter<u64>,
    pub insert_failures: Counter<u64>,
    /// Redelivered rows found already stored, acked without being written again.
    pub already_stored: Counter<u64>,
    /// Rows per successful INSERT.
    pub batch_rows: Histogram,
    /// Seconds from the start of a batch's write (lookup included) to ClickHouse's confirmation.
    pub insert_seconds: Histogram,
}

impl Default for SinkCounters {
    fn default() -> Self {
        Self {
            rows_inserted: Counter::default(),
            dead_lettered: Counter::default(),
            insert_failures: Counter::default(),
            already_stored: Counter::default(),
            batch_rows: Histogram::new(exponential_buckets(1.0, 4.0, 10)),
            insert_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
        }
    }
}

/// One row of `events`, in the column order of the table.
#[derive(Debug, Clone, clickhouse::Row, Serialize)]
pub struct EventRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub project_id: Uuid,
    /// Days since 1970-01-01 (ClickHouse `Date`).
    pub date: u16,
    /// Seconds since the epoch (ClickHouse `DateTime`).
    pub timestamp: u32,
    pub event: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub kind: String,
    pub distinct_id: String,
    pub user_id: String,
    pub session_id: String,
    pub received_at: u32,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
    pub url: String,
    pub host: String,
    pub path: String,
    pub referrer: String,
    pub referrer_domain: String,
    pub browser: String,
    pub os: String,
    pub device_type: String,
    pub lib: String,
    pub ip: String,
    pub is_bot: u8,
    pub stream_sequence: u64,
}

impl EventRow {
    /// The row of `event`, stored from stream sequence `sequence`.
    pub fn new(event: Event, sequence: u64) -> Self {
        let seconds = |at: time::OffsetDateTime| {
            u32::try_from(at.unix_timestamp().max(0)).unwrap_or(u32::MAX)
        };
        let (prop_keys, prop_values) = event
            .properties
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (key, text)
            })
            .unzip();
        let context = event.context;
        Self {
            project_id: event.project_id,
            date: u16::try_from(event.timestamp.unix_timestamp().max(0) / 86_400)
                .unwrap_or(u16::MAX),
            timestamp: seconds(event.timestamp),
            event: event.event,
            event_id: event.event_id,
            kind: event.kind.as_str().to_owned(),
            distinct_id: event.distinct_id,
            user_id: event.user_id.map(|id| id.to_string()).unwrap_or_default(),
            session_id: event.session_id.unwrap_or_default(),
            received_at: seconds(event.received_at),
            prop_keys,
            prop_values,
            url: context.url,
            host: context.host,
            path: context.path,
            referrer: context.referrer,
            referrer_domain: context.referrer_domain,
            browser: context.browser,
            os: context.os,
            device_type: context.device_type,
            lib: context.lib,
            ip: context.ip,
            is_bot: u8::from(context.is_bot),
            stream_sequence: sequence,
        }
    }
}

/// Most messages a batch has room for from the start: the default batch size. A larger
/// `SINK_BATCH_SIZE` grows past it as messages come, rather than reserve hundreds of MiB.
const PREALLOCATED: usize = 20_000;

/// Messages read from the stream, decoded, waiting to be inserted together.
#[derive(Default)]
struct Batch {
    /// Decoded rows, in the order of `messages`.
    rows: Vec<EventRow>,
    messages: Vec<Message>,
    /// Messages that are not events at all, with the reason: they fail on their own whatever
    /// the number of deliveries.
    unreadable: Vec<(Message, String)>,
    /// Some stored row was delivered before, so it may already be in the table.
    redelivered: bool,
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

    fn push(&mut self, message: Message) {
        let decoded = message
            .info()
            .map_err(|err| err.to_string())
            .and_then(|info| {
                serde_json::from_slice::<Event>(&message.payload)
                    .map(|event| (EventRow::new(event, info.stream_sequence), info.delivered))
                    .map_err(|err| format!("not an event: {err}"))
            });
        match decoded {
            Ok((row, delivered)) => {
                self.redelivered |= delivered > 1;
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

/// Runs `work`, telling the server every [`PROGRESS_EVERY`] meanwhile that `waiting` are still
/// being worked on, so their `ack_wait` restarts without spending a delivery.
async fn keeping_alive<'a, T>(
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

/// Takes the rows for which `is_copy` holds out of the batch, and returns their messages (to
/// be acked without a write).
fn take_out(
    rows: &mut Vec<EventRow>,
    messages: &mut Vec<Message>,
    mut is_copy: impl FnMut(&EventRow) -> bool,
) -> Vec<Message> {
    let mut kept = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    let mut copies = Vec::new();
    for (row, message) in rows.drain(..).zip(messages.drain(..)) {
        if is_copy(&row) {
            copies.push(message);
        } else {
            kept.0.push(row);
            kept.1.push(message);
        }
    }
    (*rows, *messages) = kept;
    copies
}

/// How often a batch that waits (ClickHouse down, or the batch ahead still inserting) is
/// marked in progress; well inside the consumer's 60 s `ack_wait`.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// Runs until `stop` completes, storing every batch already read before it returns.
///
/// Two tasks: this one reads the stream continuously (the client keeps a pull request
/// outstanding) and decodes each message as it arrives; a writer inserts and acks one batch
/// at a time. A channel of one batch between them lets the next batch fill while the previous
/// one is inserted, and holds the reader back when ClickHouse is slower than the stream.
pub async fn run(
    js: jetstream::Context,
    clickhouse: clickhouse::Client,
    settings: BatchSettings,
    counters: SinkCounters,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let (batches, queued) = tokio::sync::mpsc::channel(1);
    let writer = tokio::spawn(write(
        js.clone(),
        clickhouse,
        settings.clone(),
        counters,
        queued,
        stop.clone(),
    ));
    read(js, settings, batches, stop).await;
    if let Err(err) = writer.await {
        tracing::error!(error = %err, "sink writer failed");
    }
}

/// Reads the stream into batches of at most `max_messages`, closed `max_wait_ms` after their
/// first message, and hands them to the writer.
async fn read(
    js: jetstream::Context,
    settings: BatchSettings,
    batches: tokio::sync::mpsc::Sender<Batch>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let max_wait = Duration::from_millis(settings.max_wait_ms);
    let mut batch = Batch::with_capacity(settings.max_messages);
    'consumer: while !*stop.borrow() {
        let messages = subscribe(&js, &settings).await;
        let mut messages = match messages {
            Ok(messages) => messages,
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
                        batch.push(message);
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
/// the previous ones are used up.
async fn subscribe(
    js: &jetstream::Context,
    settings: &BatchSettings,
) -> Result<jetstream::consumer::pull::Stream, async_nats::Error> {
    let consumer: PullConsumer = js
        .get_consumer_from_stream(SINK_CONSUMER, EVENTS_STREAM)
        .await?;
    Ok(consumer
        .stream()
        .max_messages_per_batch(settings.max_messages)
        .expires(Duration::from_secs(30))
        .heartbeat(Duration::from_secs(10))
        .messages()
        .await?)
}

/// Waits for room in the channel, keeping the batch's messages from being redelivered while
/// it waits. Fails only when the writer is gone.
async fn hand_over(batches: &tokio::sync::mpsc::Sender<Batch>, batch: Batch) -> Result<(), ()> {
    let permit = keeping_alive(batch.all_messages(), batches.reserve()).await;
    permit.map_err(|_| ())?.send(batch);
    Ok(())
}

/// Stores the batches the reader hands over, one at a time, until the reader is done.
async fn write(
    js: jetstream::Context,
    clickhouse: clickhouse::Client,
    settings: BatchSettings,
    counters: SinkCounters,
    mut queued: tokio::sync::mpsc::Receiver<Batch>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let recent = std::sync::Mutex::new(RecentIds::default());
    while let Some(batch) = queued.recv().await {
        for (message, reason) in &batch.unreadable {
            dead_letter(&js, &counters, message, reason).await;
        }
        let writer = Writer {
            js: &js,
            clickhouse: &clickhouse,
            settings: &settings,
            counters: &counters,
            stop: &stop,
            recent: &recent,
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
        // table: the parts of its batch are checked first.
        let redelivered = batch.redelivered;
        async {
            let mut parts = crate::months::split(batch.rows, batch.messages).into_iter();
            while let Some((rows, messages)) = parts.next() {
                let store = writer.store(rows, messages, redelivered);
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
}

/// The ids of the events this sink stored last. A message can come twice while the first copy
/// still waits in this process (its `ack_wait` ran out during a ClickHouse outage): the second
/// copy is flagged redelivered and looked up, but the first is not, and either may be written
/// first. Both copies are caught here, and inside one batch.
#[derive(Debug, Default)]
struct RecentIds {
    ids: std::collections::HashSet<Uuid>,
    order: std::collections::VecDeque<Uuid>,
}

/// How many ids [`RecentIds`] keeps: a few batches, well past what a stall can queue.
const RECENT_IDS: usize = 200_000;

impl RecentIds {
    fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains(id)
    }

    fn remember(&mut self, ids: impl IntoIterator<Item = Uuid>) {
        for id in ids {
            if self.ids.insert(id) {
                self.order.push_back(id);
            }
        }
        while self.order.len() > RECENT_IDS {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

impl Writer<'_> {
    /// Inserts `rows` and acks their messages. When some may already be stored (`uncertain`:
    /// a redelivery, or an earlier attempt whose outcome is unknown), the rows already in the
    /// table are acked without being written again, so no event is ever stored twice.
    /// ClickHouse unavailable or overloaded: the same insert is retried with backoff for as
    /// long as it takes, the messages marked in progress (no delivery spent, nothing acked).
    /// ClickHouse rejecting the data: the batch is split until the rows that fail on their own
    /// are found; such a row is naked for a later delivery, and dead-lettered on its last.
    async fn store(
        &self,
        mut rows: Vec<EventRow>,
        mut messages: Vec<Message>,
        mut uncertain: bool,
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
            let attempt = async {
                if uncertain {
                    let stored = already_stored(self.clickhouse, &rows).await?;
                    if !stored.is_empty() {
                        let copies = take_out(&mut rows, &mut messages, |row| {
                            stored.contains(&row.event_id)
                        });
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
                }
                insert(self.clickhouse, &rows).await
            };
            let started = std::time::Instant::now();
            let err = match attempt.await {
                Ok(()) => {
                    self.counters.rows_inserted.inc_by(rows.len() as u64);
                    self.counters.batch_rows.observe(rows.len() as f64);
                    self.counters
                        .insert_seconds
                        .observe(started.elapsed().as_secs_f64());
                    log_stored(&rows, &messages);
                    self.recent
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remember(rows.iter().map(|row| row.event_id));
                    // Plain acks, sent back to back without waiting for each confirmation: an
                    // ack lost on the way only means a redelivery, which the table
                    // deduplicates by event id.
                    for message in messages {
                        if let Err(err) = message.ack().await {
                            tracing::warn!(error = %err, "ack failed after insert");
                        }
                    }
                    return;
                }
                Err(err) => err,
            };
            // Part of the batch may have been written before the failure.
            uncertain = true;
            self.counters.insert_failures.inc();
            if crate::refusals::is_rejection(&err) {
                if rows.len() > 1 {
                    let half = rows.len() / 2;
                    let (later_rows, later_messages) =
                        (rows.split_off(half), messages.split_off(half));
                    Box::pin(self.store(rows, messages, true)).await;
                    Box::pin(self.store(later_rows, later_messages, true)).await;
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

/// Rows per existence check: the event ids of one check stay well under ClickHouse's
/// default `max_query_size` (256 KiB).
const CHECK_CHUNK: usize = 4_000;

/// The event ids of `rows` that the table already holds. Bounded by the rows' projects and
/// days, the start of the sorting key, so ClickHouse reads only those index ranges.
pub(crate) async fn already_stored(
    clickhouse: &clickhouse::Client,
    rows: &[EventRow],
) -> Result<std::collections::HashSet<Uuid>, clickhouse::error::Error> {
    let mut stored = std::collections::HashSet::new();
    for chunk in rows.chunks(CHECK_CHUNK) {
        let distinct = |values: Vec<String>| {
            let mut values = values;
            values.sort_unstable();
            values.dedup();
            values
        };
        let projects = distinct(chunk.iter().map(|row| row.project_id.to_string()).collect());
        let days = distinct(chunk.iter().map(|row| day_text(row.date)).collect());
        let ids: Vec<String> = chunk.iter().map(|row| row.event_id.to_string()).collect();
        let placeholders = |n: usize| vec!["?"; n].join(", ");
        let sql = format!(
            "SELECT toString(event_id) FROM events WHERE project_id IN ({}) AND date IN ({}) \
             AND event_id IN ({})",
            placeholders(projects.len()),
            placeholders(days.len()),
            placeholders(ids.len())
        );
        let mut query = clickhouse.query(&sql);
        for value in projects.iter().chain(&days).chain(&ids) {
            query = query.bind(value.as_str());
        }
        for id in query.fetch_all::<String>().await? {
            if let Ok(id) = Uuid::parse_str(&id) {
                stored.insert(id);
            }
        }
    }
    Ok(stored)
}

/// `YYYY-MM-DD` of a ClickHouse `Date` (days since 1970-01-01).
fn day_text(days: u16) -> String {
    time::Date::from_julian_day(2_440_588 + i32::from(days))
        .map(|date| date.to_string())
        .unwrap_or_default()
}

/// Writes `rows` with one INSERT per month they span: the writer hands them over one month at
/// a time already, `sink replay` whatever its batch holds. A failure may leave the months
/// before it written.
pub(crate) async fn insert(
    clickhouse: &clickhouse::Client,
    rows: &[EventRow],
) -> Result<(), clickhouse::error::Error> {
    if crate::months::within_one(rows) {
        return insert_month(clickhouse, rows.iter()).await;
    }
    for month in crate::months::group(rows.iter().map(|row| (row.date, row))) {
        insert_month(clickhouse, month.into_iter()).await?;
    }
    Ok(())
}

/// One INSERT of `rows`, all of one month.
async fn insert_month(
    clickhouse: &clickhouse::Client,
    rows: impl Iterator<Item = &EventRow>,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = clickhouse.insert::<EventRow>("events").await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// Copies `message` to `EVENTS_DLQ` with the reason in a header, then ends its delivery.
async fn dead_letter(
    js: &jetstream::Context,
    counters: &SinkCounters,
    message: &Message,
    reason: &str,
) {
    let project = message.subject.split('.').nth(1).unwrap_or("unknown");
    let mut headers = HeaderMap::new();
    headers.insert(
        ERROR_HEADER,
        reason
            .chars()
            .filter(|c| !c.is_control())
            .take(500)
            .collect::<String>()
            .as_str(),
    );
    headers.insert(
        crate::dlq::ORIGINAL_SUBJECT_HEADER,
        message.subject.as_str(),
    );
    let stored = match js
        .publish_with_headers(dlq_subject(project), headers, message.payload.clone())
        .await
    {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    match stored {
        true => {
            counters.dead_lettered.inc();
            tracing::error!(subject = %message.subject, reason, "event dead-lettered");
            let _ = message.ack_with(AckKind::Term).await;
        }
        _ => {
            // Not in the DLQ yet: leave it to be redelivered rather than lose it.
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_remember_the_last_ones_and_forget_the_oldest() {
        let mut recent = RecentIds::default();
        let first = Uuid::now_v7();
        recent.remember([first]);
        recent.remember([first]);
        assert!(recent.contains(&first));
        assert_eq!(recent.order.len(), 1, "an id is kept once");
        recent.remember((0..RECENT_IDS).map(|_| Uuid::now_v7()));
        assert!(!recent.contains(&first), "the oldest goes first");
        assert_eq!(recent.ids.len(), RECENT_IDS);
    }

    #[test]
    fn days_are_written_as_clickhouse_dates() {
        assert_eq!(day_text(0), "1970-01-01");
        assert_eq!(day_text(20_787), "2026-11-30");
    }
}
