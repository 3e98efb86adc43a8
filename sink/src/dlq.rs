//! Dead letters: the events the sink moves to `EVENTS_DLQ` (with the reason in a header), and
//! the operator tools on them (`sink dlq list`, `sink dlq redrive`): what is there and why, and
//! sending it back to `EVENTS` once the cause is fixed.
//!
//! A redriven event is published under a message id of its own (`<event id>-redrive-<DLQ
//! sequence>`): the original id may still be inside the stream's duplicate window, which would
//! drop it silently, while a redrive interrupted and run again is still deduplicated. Each dead
//! letter is deleted from the DLQ only after `EVENTS` confirmed the copy.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, Message};
use contract::streams::{
    DLQ_ERROR_HEADER, DLQ_ORIGINAL_SUBJECT_HEADER, EVENTS_DLQ_STREAM, dlq_subject, event_subject,
};
use uuid::Uuid;

use crate::metrics::SinkCounters;

/// Copies `message` to `EVENTS_DLQ` with the reason in a header, then ends its delivery.
pub(crate) async fn dead_letter(
    js: &jetstream::Context,
    counters: &SinkCounters,
    message: &Message,
    reason: &str,
) {
    let project = message.subject.split('.').nth(1).unwrap_or("unknown");
    let mut headers = HeaderMap::new();
    headers.insert(
        DLQ_ERROR_HEADER,
        reason
            .chars()
            .filter(|c| !c.is_control())
            .take(500)
            .collect::<String>()
            .as_str(),
    );
    headers.insert(DLQ_ORIGINAL_SUBJECT_HEADER, message.subject.as_str());
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

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its sequence in `EVENTS_DLQ`.
    pub sequence: u64,
    pub project_id: String,
    /// The subject it had on `EVENTS`.
    pub original_subject: String,
    pub event_id: Option<String>,
    /// Why the sink could not store it.
    pub error: String,
    pub payload: Vec<u8>,
}

/// The dead letters, oldest first, of one project or all.
pub async fn list(
    js: &jetstream::Context,
    project: Option<Uuid>,
) -> anyhow::Result<Vec<DeadLetter>> {
    let mut stream = js
        .get_stream(EVENTS_DLQ_STREAM)
        .await
        .context("opening EVENTS_DLQ")?;
    let state = stream.info().await?.state.clone();
    let mut letters = Vec::new();
    if state.messages == 0 {
        return Ok(letters);
    }
    for sequence in state.first_sequence..=state.last_sequence {
        // Deleted sequences (redriven letters) are gaps.
        let Ok(message) = stream.get_raw_message(sequence).await else {
            continue;
        };
        let project_id = message
            .subject
            .as_str()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        if project.is_some_and(|wanted| wanted.to_string() != project_id) {
            continue;
        }
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|value| value.as_str().to_owned())
        };
        let payload = message.payload.to_vec();
        let event: Option<contract::event::Event> = serde_json::from_slice(&payload).ok();
        let original_subject = header(DLQ_ORIGINAL_SUBJECT_HEADER)
            .or_else(|| {
                event
                    .as_ref()
                    .map(|e| event_subject(&e.project_id.to_string(), e.kind.as_str()))
            })
            .unwrap_or_default();
        letters.push(DeadLetter {
            sequence,
            project_id,
            original_subject,
            event_id: event.map(|e| e.event_id.to_string()),
            error: header(DLQ_ERROR_HEADER).unwrap_or_default(),
            payload,
        });
    }
    Ok(letters)
}

/// What a redrive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Redriven {
    /// Back on `EVENTS` and gone from the DLQ.
    pub redriven: usize,
    /// Left in the DLQ: not an event at all, so no subject to send it back to.
    pub kept: usize,
}

/// Sends the dead letters (of one project or all) back to `EVENTS`, reporting progress on
/// `progress` (stderr for the command).
pub async fn redrive(
    js: &jetstream::Context,
    project: Option<Uuid>,
    progress: &mut impl std::io::Write,
) -> anyhow::Result<Redriven> {
    let letters = list(js, project).await?;
    let stream = js.get_stream(EVENTS_DLQ_STREAM).await?;
    let total = letters.len();
    let mut done = Redriven::default();
    for (index, letter) in letters.into_iter().enumerate() {
        let Some(event_id) = &letter.event_id else {
            done.kept += 1;
            continue;
        };
        let message = jetstream::message::PublishMessage::build()
            .payload(letter.payload.into())
            .message_id(format!("{event_id}-redrive-{}", letter.sequence));
        js.send_publish(letter.original_subject, message)
            .await?
            .await
            .context("EVENTS did not confirm a redriven event")?;
        stream
            .delete_message(letter.sequence)
            .await
            .context("deleting a redriven dead letter")?;
        done.redriven += 1;
        let _ = write!(progress, "\rredriven {}/{total}", index + 1);
        let _ = progress.flush();
    }
    if total > 0 {
        let _ = writeln!(progress);
    }
    Ok(done)
}
