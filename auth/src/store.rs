//! Publishing auth events: idempotent (`Nats-Msg-Id`) and, per entity, optimistic
//! (expected last subject sequence).

use async_nats::jetstream::{self, context::PublishErrorKind};
use contract::auth::AuthEvent;

/// Why an event was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
    /// Another writer changed the entity first (or the email is claimed).
    #[error("the entity changed concurrently")]
    Conflict,
    /// JetStream did not confirm the write.
    #[error("jetstream unavailable: {0}")]
    Unavailable(String),
}

/// Writes events to the `AUTH` stream.
#[derive(Debug, Clone)]
pub(crate) struct Publisher {
    js: jetstream::Context,
}

impl Publisher {
    pub(crate) fn new(js: jetstream::Context) -> Self {
        Self { js }
    }

    pub(crate) fn context(&self) -> &jetstream::Context {
        &self.js
    }

    /// Publishes `event` on `subject` and returns its stream sequence once JetStream stored it.
    /// `expected` is the subject's last sequence this write is based on (0: the subject must be
    /// empty); `None` appends unconditionally.
    pub(crate) async fn publish(
        &self,
        subject: String,
        event: &AuthEvent,
        message_id: &str,
        expected: Option<u64>,
    ) -> Result<u64, PublishError> {
        let payload = serde_json::to_vec(event)
            .map_err(|err| PublishError::Unavailable(format!("encoding: {err}")))?;
        let mut message = jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .message_id(message_id);
        if let Some(expected) = expected {
            message = message.expected_last_subject_sequence(expected);
        }
        let ack = self
            .js
            .send_publish(subject, message)
            .await
            .map_err(publish_error)?
            .await
            .map_err(publish_error)?;
        Ok(ack.sequence)
    }
}

fn publish_error(err: jetstream::context::PublishError) -> PublishError {
    match err.kind() {
        PublishErrorKind::WrongLastSequence => PublishError::Conflict,
        _ => PublishError::Unavailable(err.to_string()),
    }
}
