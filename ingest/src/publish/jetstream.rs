//! Publishing a request's events (and their identity links) to JetStream: pipelined, each
//! message carrying the request's trace, and answered only once every ack came back.

use std::collections::VecDeque;

use async_nats::jetstream;

use crate::publish::encode::Encoded;

/// The request's id and trace context, copied into the headers of every message it publishes,
/// so an event can be followed from the browser to ClickHouse in the logs.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub(crate) request_id: Option<String>,
    pub(crate) traceparent: Option<String>,
}

/// JetStream did not store every event: the cause, for the log (the client learns "retry").
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NotStored(pub(crate) String);

/// Acks awaited at most at once per NATS connection (async-nats' default).
const MAX_ACKS_IN_FLIGHT: usize = 5_000;

/// The context events are published with. It refuses a publish when `MAX_ACKS_IN_FLIGHT` acks
/// are pending instead of waiting for a free slot: requests that each hold unawaited acks and
/// all wait for a slot would wait for each other (eight requests of 1000 events did, until
/// edge's timeout), so [`publish`] frees its own slots instead.
pub(crate) fn publisher(client: &async_nats::Client) -> jetstream::Context {
    jetstream::context::ContextBuilder::new()
        .max_ack_inflight(MAX_ACKS_IN_FLIGHT)
        .backpressure_on_inflight(false)
        .build(client.clone())
}

/// Publishes `events` and waits for every ack: the request's 2xx means JetStream stored them,
/// and the identity links they make.
/// Publishes are pipelined; when the connection's in-flight limit is reached, the oldest of
/// this request's own acks is awaited first, which frees a slot.
pub(crate) async fn publish(
    js: &jetstream::Context,
    batch: Encoded,
    trace: &Trace,
) -> Result<(), NotStored> {
    // The custom header names as static bytes, rather than parsed and copied per message.
    const REQUEST_ID: async_nats::HeaderName =
        async_nats::HeaderName::from_static(contract::streams::REQUEST_ID_HEADER);
    const TRACEPARENT: async_nats::HeaderName =
        async_nats::HeaderName::from_static(contract::streams::TRACEPARENT_HEADER);
    let unavailable = |err: &dyn std::fmt::Display| NotStored(err.to_string());
    let (payloads, events) = batch.into_parts();
    if tracing::enabled!(tracing::Level::DEBUG) {
        for event in &events {
            // Inside the request span: request id and trace id stand next to the event id.
            tracing::debug!(message_id = %event.message_id, subject = %event.subject, "publishing");
        }
    }
    // `bytes::Bytes`, the type async-nats takes, through axum's re-export: the one use of axum
    // here, as ingest has no dependency on `bytes` of its own.
    let payloads = axum::body::Bytes::from(payloads);
    let mut acks = VecDeque::with_capacity(events.len());
    for event in events {
        let payload = payloads.slice(event.start..event.end);
        let mut id = uuid::Uuid::encode_buffer();
        let id: &str = event.message_id.hyphenated().encode_lower(&mut id);
        // Built again for a second try: the first is consumed by the refused publish.
        let message = || {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
            if let Some(request_id) = &trace.request_id {
                headers.insert(REQUEST_ID, request_id.as_str());
            }
            if let Some(traceparent) = &trace.traceparent {
                headers.insert(TRACEPARENT, traceparent.as_str());
            }
            // A clone shares the payloads' bytes.
            jetstream::message::PublishMessage::build()
                .payload(payload.clone())
                .headers(headers)
        };
        loop {
            match js.send_publish(event.subject.clone(), message()).await {
                Ok(ack) => {
                    acks.push_back(ack);
                    break;
                }
                Err(err) if err.kind() == jetstream::context::PublishErrorKind::MaxAckPending => {
                    match acks.pop_front() {
                        Some(ack) => {
                            ack.await.map_err(|err| unavailable(&err))?;
                        }
                        // Every slot is another request's: they free them as their acks come.
                        None => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
                    }
                }
                Err(err) => return Err(unavailable(&err)),
            }
        }
    }
    for ack in acks {
        ack.await.map_err(|err| unavailable(&err))?;
    }
    Ok(())
}
