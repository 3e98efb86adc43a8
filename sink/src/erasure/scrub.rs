//! An erasure on the streams: every message of the person is deleted from `PERSONS` (their
//! identity links), `EVENTS`, `EVENTS_HISTORY` and `EVENTS_DLQ`. Each stream is read with an
//! ordered consumer of its own, filtered to the project's subjects, up to the last message it
//! held when the reading began, and each message of the person is deleted by its sequence
//! (JetStream's default delete overwrites the message on disk). Messages arriving later are
//! the sink's to drop (see `erasure::erased`).

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream::DeleteMessageErrorKind};
use contract::event::Event;
use contract::persons::Link;
use futures_util::StreamExt as _;
use serde_json::Value;
use uuid::Uuid;

use crate::erasure::ids::named_by_event;

/// How long a read waits for the next message before it counts the stream as read.
const IDLE: Duration = Duration::from_secs(5);

/// What marks a message as the person's: one of their ids, or an event that made one of
/// their links.
#[derive(Debug, Clone, Default)]
pub(crate) struct PersonMessages {
    pub(crate) ids: HashSet<String>,
    pub(crate) link_events: HashSet<Uuid>,
}

impl PersonMessages {
    /// Whether the payload of an identity link is the person's; the event that made it is
    /// noted, so that its message goes too.
    pub(crate) fn take_link(&mut self, payload: &[u8]) -> bool {
        match serde_json::from_slice::<Link>(payload) {
            Ok(link) => {
                let theirs =
                    self.ids.contains(&link.distinct_id) || self.ids.contains(&link.other_id);
                if theirs {
                    self.link_events.insert(link.event_id);
                }
                theirs
            }
            Err(_) => self.named_in(payload),
        }
    }

    /// Whether the payload of an event (or a dead letter) is the person's: one naming one of
    /// their ids ([`named_by_event`]: its `distinct_id`, or the other id of its link), or an
    /// event that linked one of their ids. A payload that is no event is theirs when it holds
    /// one of their ids as a JSON string.
    pub(crate) fn holds_event(&self, payload: &[u8]) -> bool {
        match serde_json::from_slice::<Event>(payload) {
            Ok(event) => {
                self.link_events.contains(&event.event_id)
                    || named_by_event(&event).any(|id| self.ids.contains(id.as_ref()))
            }
            Err(_) => self.named_in(payload),
        }
    }

    /// Whether `payload` holds one of the ids as a JSON string (`"anon-1"`).
    fn named_in(&self, payload: &[u8]) -> bool {
        self.ids.iter().any(|id| {
            let quoted = Value::String(id.clone()).to_string();
            payload
                .windows(quoted.len())
                .any(|window| window == quoted.as_bytes())
        })
    }
}

/// Deletes from `stream` every message on `filter` that `theirs` says is the person's, among
/// those the stream holds now (from `from` on); returns how many were deleted.
pub(crate) async fn scrub(
    js: &jetstream::Context,
    stream: &str,
    filter: String,
    from: consumer::DeliverPolicy,
    mut theirs: impl FnMut(&[u8]) -> bool,
) -> anyhow::Result<u64> {
    let mut handle = js.get_stream(stream).await?;
    let last = handle.info().await?.state.last_sequence;
    let reader = handle
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: filter,
            deliver_policy: from,
            ..Default::default()
        })
        .await?;
    if reader.cached_info().num_pending == 0 {
        return Ok(0);
    }
    let mut messages = reader.messages().await?;
    let mut deleted = 0;
    loop {
        let message = match tokio::time::timeout(IDLE, messages.next()).await {
            Ok(Some(message)) => message?,
            Ok(None) | Err(_) => break,
        };
        let info = message
            .info()
            .map_err(|err| anyhow::anyhow!("a message without metadata: {err}"))?;
        let (sequence, pending) = (info.stream_sequence, info.pending);
        if sequence > last {
            break;
        }
        if theirs(&message.payload) {
            delete(&handle, sequence).await?;
            deleted += 1;
        }
        if pending == 0 || sequence == last {
            break;
        }
    }
    Ok(deleted)
}

/// Deletes message `sequence` of `stream`; one gone already (an acked message of `EVENTS`,
/// say) is fine.
pub(crate) async fn delete(
    stream: &jetstream::stream::Stream,
    sequence: u64,
) -> anyhow::Result<()> {
    match stream.delete_message(sequence).await {
        Ok(_) => Ok(()),
        Err(err) => match err.kind() {
            DeleteMessageErrorKind::JetStream(js)
                if js.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND =>
            {
                Ok(())
            }
            _ => Err(anyhow::anyhow!(
                "deleting message {sequence} of {}: {err}",
                stream.cached_info().config.name
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn person() -> PersonMessages {
        PersonMessages {
            ids: ["anon-1", "user-1"].map(str::to_owned).into(),
            link_events: HashSet::new(),
        }
    }

    fn event(distinct_id: &str, properties: Value) -> Vec<u8> {
        json!({
            "event_id": Uuid::now_v7(), "project_id": Uuid::now_v7(), "kind": "track",
            "event": "e", "distinct_id": distinct_id, "timestamp": "2026-01-01T00:00:00Z",
            "received_at": "2026-01-01T00:00:00Z", "properties": properties,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_message_is_the_persons_by_its_ids_not_by_a_part_of_one() {
        let mut person = person();
        assert!(person.holds_event(&event("anon-1", json!({}))));
        assert!(!person.holds_event(&event("anon-10", json!({ "note": "anon-1" }))));
        assert!(person.holds_event(&event("x", json!({ "$anon_distinct_id": "user-1" }))));
        assert!(!person.holds_event(&event("x", json!({ "$anon_distinct_id": "user-10" }))));
        // Not an event at all: theirs when it names one of the ids whole.
        assert!(person.holds_event(br#"{"distinct_id":"user-1","timestamp":"soon"}"#));
        assert!(!person.holds_event(br#"{"distinct_id":"user-10"}"#));

        let link_event = Uuid::now_v7();
        let link = json!({
            "project_id": Uuid::now_v7(), "distinct_id": "user-1", "other_id": "anon-9",
            "event_id": link_event, "timestamp": "2026-01-01T00:00:00Z",
        });
        assert!(person.take_link(link.to_string().as_bytes()));
        assert!(person.link_events.contains(&link_event));
        let other = json!({
            "project_id": Uuid::now_v7(), "distinct_id": "user-2", "other_id": "anon-2",
            "event_id": Uuid::now_v7(), "timestamp": "2026-01-01T00:00:00Z",
        });
        assert!(!person.take_link(other.to_string().as_bytes()));
    }
}
