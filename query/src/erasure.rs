//! Erasure of a tracked person, as query takes part in it: an admin's request becomes an
//! erasure message on `PERSONS` (the sink runs it, in stream order with the identity links),
//! and the erasures not done yet are listed for the admin status: their messages still on the
//! stream, since the sink deletes each once it is done.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use contract::erasure::PendingErasure;
use contract::persons::Erasure;
use contract::streams::{PERSONS_STREAM, person_erase_subject};
use futures_util::StreamExt as _;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;

/// The most pending erasures the status lists.
const MAX_LISTED: usize = 100;

/// How long the listing waits for the next pending erasure.
const IDLE: Duration = Duration::from_secs(1);

/// Publishes `erasure` to `PERSONS` and waits for the stream to confirm it.
pub(crate) async fn request(nats: &async_nats::Client, erasure: &Erasure) -> Result<(), Error> {
    let js = jetstream::new(nats.clone());
    let payload = serde_json::to_vec(erasure)
        .map_err(|err| Error::Unavailable(format!("encoding an erasure: {err}")))?;
    let message = jetstream::message::PublishMessage::build()
        .payload(payload.into())
        .message_id(erasure.message_id());
    js.send_publish(
        person_erase_subject(&erasure.project_id.to_string()),
        message,
    )
    .await
    .map_err(|err| Error::Unavailable(format!("publishing an erasure: {err}")))?
    .await
    .map_err(|err| Error::Unavailable(format!("PERSONS did not confirm an erasure: {err}")))?;
    Ok(())
}

/// The erasures asked for and not done yet, oldest first (at most [`MAX_LISTED`]).
pub(crate) async fn pending(
    nats: &async_nats::Client,
) -> Result<Vec<PendingErasure>, async_nats::Error> {
    let js = jetstream::new(nats.clone());
    let reader = js
        .get_stream(PERSONS_STREAM)
        .await?
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: person_erase_subject("*"),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut listed = Vec::new();
    if reader.cached_info().num_pending == 0 {
        return Ok(listed);
    }
    let mut messages = reader.messages().await?;
    while listed.len() < MAX_LISTED {
        let Ok(Some(message)) = tokio::time::timeout(IDLE, messages.next()).await else {
            break;
        };
        let message = message?;
        if let Ok(erasure) = serde_json::from_slice::<Erasure>(&message.payload) {
            listed.push(PendingErasure {
                erasure_id: erasure.erasure_id,
                project_id: erasure.project_id,
                requested_at: erasure.requested_at.format(&Rfc3339).unwrap_or_default(),
            });
        }
        if message.info().map_or(true, |info| info.pending == 0) {
            break;
        }
    }
    Ok(listed)
}
