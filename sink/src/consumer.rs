//! The consuming loop: fetch a batch from the durable consumer `sink-clickhouse`, write it with
//! one RowBinary INSERT, and ack every message only after ClickHouse confirmed the insert. One
//! batch is in flight at a time. A ClickHouse error naks the batch with a delay (the consumer
//! keeps its place, nothing is dropped); a message that cannot be stored on its own after its
//! last delivery, or that cannot even be read, goes to `EVENTS_DLQ` with the error in a header.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, Message, consumer::PullConsumer};
use contract::event::Event;
use contract::streams::{EVENTS_STREAM, SINK_CONSUMER, dlq_subject};
use futures_util::StreamExt as _;
use prometheus_client::metrics::counter::Counter;
use serde::Serialize;
use uuid::Uuid;

/// Header of a dead-lettered message: why it could not be stored.
pub const ERROR_HEADER: &str = "Sink-Error";

/// Batching of the sink.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// Most messages per INSERT (`SINK_BATCH_SIZE`, default 5000).
    pub max_messages: usize,
    /// Longest wait to fill a batch (`SINK_BATCH_WAIT_MS`, default 200).
    pub max_wait_ms: u64,
    /// Deliveries after which a message that fails alone is dead-lettered; the consumer's
    /// `max_deliver` (10).
    pub max_deliver: i64,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_messages: 5_000,
            max_wait_ms: 200,
            max_deliver: 10,
        }
    }
}

/// What the sink counts.
#[derive(Debug, Clone, Default)]
pub struct SinkCounters {
    pub rows_inserted: Counter<u64>,
    pub dead_lettered: Counter<u64>,
    pub insert_failures: Counter<u64>,
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

/// Runs until `stop` completes, finishing the batch in flight first.
pub async fn run(
    js: jetstream::Context,
    clickhouse: clickhouse::Client,
    settings: BatchSettings,
    counters: SinkCounters,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    // The insert of one batch overlaps the fetch of the next; at most one insert runs.
    let mut in_flight: Option<tokio::task::JoinHandle<Result<(), clickhouse::error::Error>>> = None;
    'consumer: while !*stop.borrow() {
        let consumer: PullConsumer = match js
            .get_consumer_from_stream(SINK_CONSUMER, EVENTS_STREAM)
            .await
        {
            Ok(consumer) => consumer,
            Err(err) => {
                tracing::warn!(error = %err, "sink consumer not available yet");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        loop {
            if *stop.borrow() {
                break 'consumer;
            }
            let fetched = consumer
                .fetch()
                .max_messages(settings.max_messages)
                .expires(Duration::from_millis(settings.max_wait_ms))
                .messages()
                .await;
            let mut batch = Vec::new();
            match fetched {
                Ok(mut messages) => {
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(message) => batch.push(message),
                            Err(err) => tracing::warn!(error = %err, "fetch interrupted"),
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "fetch failed");
                    break;
                }
            }
            if let Some(previous) = in_flight.take() {
                settle(previous, &mut backoff).await;
            }
            if batch.is_empty() {
                continue;
            }
            in_flight = Some(tokio::spawn({
                let (js, clickhouse, settings, counters) = (
                    js.clone(),
                    clickhouse.clone(),
                    settings.clone(),
                    counters.clone(),
                );
                async move { store(&js, &clickhouse, &settings, &counters, batch).await }
            }));
        }
    }
    // Shutting down: the batch in flight is inserted and acked (or naked) before we return.
    if let Some(previous) = in_flight.take() {
        let mut no_wait = Duration::ZERO;
        settle(previous, &mut no_wait).await;
    }
}

/// Waits for a batch's insert; after a failure, backs off before the next one.
async fn settle(
    insert: tokio::task::JoinHandle<Result<(), clickhouse::error::Error>>,
    backoff: &mut Duration,
) {
    match insert.await {
        Ok(Ok(())) => *backoff = Duration::from_millis(200),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "insert failed; batch will be redelivered");
            tokio::time::sleep(*backoff).await;
            *backoff = (*backoff * 2).clamp(Duration::from_millis(200), Duration::from_secs(10));
        }
        Err(err) => tracing::error!(error = %err, "insert task failed; batch will be redelivered"),
    }
}

/// Inserts one batch and acks it, or naks it for redelivery.
async fn store(
    js: &jetstream::Context,
    clickhouse: &clickhouse::Client,
    settings: &BatchSettings,
    counters: &SinkCounters,
    batch: Vec<Message>,
) -> Result<(), clickhouse::error::Error> {
    let mut rows = Vec::with_capacity(batch.len());
    let mut stored = Vec::with_capacity(batch.len());
    for message in batch {
        let decoded = message
            .info()
            .map_err(|err| err.to_string())
            .and_then(|info| {
                serde_json::from_slice::<Event>(&message.payload)
                    .map(|event| EventRow::new(event, info.stream_sequence))
                    .map_err(|err| format!("not an event: {err}"))
            });
        match decoded {
            Ok(row) => {
                rows.push(row);
                stored.push(message);
            }
            Err(reason) => dead_letter(js, counters, &message, &reason).await,
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    match insert(clickhouse, &rows).await {
        Ok(()) => {
            counters.rows_inserted.inc_by(rows.len() as u64);
            // Plain acks, sent back to back without waiting for each confirmation: an ack lost
            // on the way only means a redelivery, which the table deduplicates by event id.
            for message in stored {
                if let Err(err) = message.ack().await {
                    tracing::warn!(error = %err, "ack failed after insert");
                }
            }
            Ok(())
        }
        Err(err) => {
            counters.insert_failures.inc();
            for message in stored {
                let delivered = message.info().map(|info| info.delivered).unwrap_or(0);
                if delivered >= settings.max_deliver {
                    dead_letter(js, counters, &message, &err.to_string()).await;
                } else {
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
            Err(err)
        }
    }
}

async fn insert(
    clickhouse: &clickhouse::Client,
    rows: &[EventRow],
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
    headers.insert("Sink-Original-Subject", message.subject.as_str());
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
