//! The consuming loop: read the durable consumer `sink-clickhouse` continuously, write each
//! batch with one RowBinary INSERT per month it spans (one, for live events; see the
//! `months` module), and ack every message only after ClickHouse confirmed the insert. One
//! insert runs at a time while the next batch fills. ClickHouse down or overloaded: the batch
//! is retried until it is stored (the consumer keeps its place, nothing is dropped or acked).
//! ClickHouse refusing rows for their contents: the batch is split until those rows are found,
//! and the rest is stored. A message that cannot be stored on its own after its last delivery,
//! or that cannot even be read, goes to `EVENTS_DLQ` with the error in a header.
//!
//! Reading is in `batch`, writing in `writer`, dead-lettering in `dlq`; this module runs them.

use async_nats::jetstream;

use crate::batch::{BatchSettings, read};
use crate::metrics::SinkCounters;
use crate::writer::{Following, write};

/// Runs until `stop` completes, storing every batch already read before it returns.
///
/// Two tasks: this one reads the stream continuously (the client keeps a pull request
/// outstanding) and decodes each message as it arrives; a writer inserts and acks one batch
/// at a time. A channel of one batch between them lets the next batch fill while the previous
/// one is inserted, and holds the reader back when ClickHouse is slower than the stream.
pub(crate) async fn run(
    js: jetstream::Context,
    clickhouse: clickhouse::Client,
    settings: BatchSettings,
    counters: SinkCounters,
    stop: tokio::sync::watch::Receiver<bool>,
    following: Following,
) {
    // Nothing is stored before the erased persons are known.
    if !following.arrivals.ready(&stop).await {
        return;
    }
    let (batches, queued) = tokio::sync::mpsc::channel(1);
    let writer = tokio::spawn(write(
        js.clone(),
        clickhouse,
        settings.clone(),
        counters,
        queued,
        stop.clone(),
        following,
    ));
    read(js, settings, batches, stop).await;
    if let Err(err) = writer.await {
        tracing::error!(error = %err, "sink writer failed");
    }
}
