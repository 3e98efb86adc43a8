//! The person mapping projection: the durable consumer `sink-persons` on `PERSONS`, whose
//! `max_ack_pending` of 1 hands out one link at a time in stream order, however many sinks
//! read it. Each link is applied and acked (with the server's confirmation) before the next
//! comes; while ClickHouse is down the link is retried in place, so no later link passes it.
//! A message that is not a link is terminated: skipped, now and on every rebuild alike.
//! Erasures of persons come on the same consumer, in order with the links, and are run by
//! `crate::erasure`; a link naming an erased id is dropped there too.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message, consumer::PullConsumer};
use contract::persons::Link;
use contract::streams::{PERSONS_CONSUMER, PERSONS_STREAM};
use futures_util::StreamExt as _;

use crate::erasure::execute::Eraser;
use crate::persons::lookup::PersonKeys;
use crate::persons::mapping::{Applied, apply};

/// How often a link that waits on ClickHouse is marked in progress: well inside the
/// consumer's 30 s `ack_wait`.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// [`run`], once the schema is applied.
pub(crate) async fn run_when(
    schema_ready: plumbing::startup::Done,
    js: jetstream::Context,
    clickhouse: clickhouse::Client,
    keys: PersonKeys,
    eraser: Eraser,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    while !schema_ready.is_done() {
        if *stop.borrow() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !eraser.erased().loaded(&stop).await {
        return;
    }
    run(js, clickhouse, keys, eraser, stop).await;
}

/// Applies links until `stop` turns true, finishing the one in hand first. `keys` learns of
/// every merge this sink applies.
async fn run(
    js: jetstream::Context,
    clickhouse: clickhouse::Client,
    keys: PersonKeys,
    eraser: Eraser,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let mut messages = match subscribe(&js).await {
            Ok(messages) => messages,
            Err(err) => {
                // Missing while `sink rebuild-persons` runs, which creates it again.
                tracing::debug!(error = %err, "person links consumer not available");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                biased;
                _ = stop.changed() => return,
                next = messages.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    if !handle(&clickhouse, &keys, &eraser, &message, &stop).await {
                        return;
                    }
                }
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "reading the person links; resubscribing");
                    break;
                }
                None => break,
            }
        }
    }
}

/// Applies one message and acks it; false when the sink stopped before it could (the message
/// is handed back).
async fn handle(
    clickhouse: &clickhouse::Client,
    keys: &PersonKeys,
    eraser: &Eraser,
    message: &Message,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> bool {
    let sequence = match message.info() {
        Ok(info) => info.stream_sequence,
        Err(err) => {
            tracing::warn!(error = %err, "a person link without metadata");
            return true;
        }
    };
    if message.subject.ends_with(".erase") {
        return eraser.handle(message, sequence, stop).await;
    }
    let link = match serde_json::from_slice::<Link>(&message.payload) {
        Ok(link) => link,
        Err(err) => {
            tracing::warn!(sequence, error = %err, "not a person link: skipped");
            let _ = message.ack_with(AckKind::Term).await;
            return true;
        }
    };
    if eraser.drop_link(message, &link, sequence).await {
        return true;
    }
    let mut backoff = Duration::from_millis(200);
    let mut marked = tokio::time::Instant::now();
    loop {
        match apply(clickhouse, &link, sequence).await {
            Ok(applied) => {
                if let Applied::Merged(rows) = applied {
                    keys.forget(link.project_id);
                    tracing::debug!(sequence, rows, "persons merged");
                }
                if let Err(err) = message.double_ack().await {
                    tracing::warn!(sequence, error = %err, "ack of a person link failed");
                }
                return true;
            }
            Err(err) => {
                if *stop.borrow() {
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                    return false;
                }
                tracing::warn!(sequence, error = %err, "applying a person link failed; retrying");
            }
        }
        if marked.elapsed() >= PROGRESS_EVERY {
            let _ = message.ack_with(AckKind::Progress).await;
            marked = tokio::time::Instant::now();
        }
        let mut stop = stop.clone();
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// A continuous pull from `sink-persons`.
async fn subscribe(
    js: &jetstream::Context,
) -> Result<jetstream::consumer::pull::Stream, async_nats::Error> {
    let consumer: PullConsumer = js
        .get_consumer_from_stream(PERSONS_CONSUMER, PERSONS_STREAM)
        .await?;
    Ok(consumer
        .stream()
        .max_messages_per_batch(10)
        .expires(Duration::from_secs(30))
        .heartbeat(Duration::from_secs(10))
        .messages()
        .await?)
}
