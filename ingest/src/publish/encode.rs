//! A request's events serialised once, for the size check and for the stream, one after the
//! other into one buffer that every message shares.

use contract::event::{Event, EventKind};

use crate::body::MAX_EVENT_BYTES;
use crate::publish::quota::Usage;

/// A request's events ready to publish.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    payloads: Vec<u8>,
    events: Vec<EncodedEvent>,
    /// The subjects of this request so far: one or two, for a request of one project.
    subjects: Vec<(uuid::Uuid, EventKind, async_nats::Subject)>,
    /// Events and bytes by project, for the intake quotas.
    usage: Usage,
}

/// One event of [`Encoded`]: its payload is `payloads[start..end]`.
#[derive(Debug)]
pub(crate) struct EncodedEvent {
    pub(crate) subject: async_nats::Subject,
    pub(crate) event_id: uuid::Uuid,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Encoded {
    pub(crate) fn with_capacity(events: usize) -> Self {
        Self {
            // About what a small browser event takes.
            payloads: Vec::with_capacity(events * 512),
            events: Vec::with_capacity(events),
            subjects: Vec::new(),
            usage: Usage::default(),
        }
    }

    /// Serialises `event`; an event over [`MAX_EVENT_BYTES`] is refused.
    pub(crate) fn push(&mut self, event: &Event) -> Result<(), String> {
        let start = self.payloads.len();
        if let Err(err) = serde_json::to_writer(&mut self.payloads, event) {
            self.payloads.truncate(start);
            return Err(format!("cannot encode the event: {err}"));
        }
        if self.payloads.len() - start > MAX_EVENT_BYTES {
            self.payloads.truncate(start);
            return Err(format!("an event must be at most {MAX_EVENT_BYTES} bytes"));
        }
        let known = self
            .subjects
            .iter()
            .find(|(project_id, kind, _)| *project_id == event.project_id && *kind == event.kind);
        let subject = match known {
            Some((_, _, subject)) => subject.clone(),
            None => {
                let subject = async_nats::Subject::from(contract::streams::event_subject(
                    &event.project_id.to_string(),
                    event.kind.as_str(),
                ));
                self.subjects
                    .push((event.project_id, event.kind, subject.clone()));
                subject
            }
        };
        self.events.push(EncodedEvent {
            subject,
            event_id: event.event_id,
            start,
            end: self.payloads.len(),
        });
        self.usage
            .add(event.project_id, self.payloads.len() - start);
        Ok(())
    }

    /// Events encoded.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// What the events would store, by project.
    pub(crate) fn usage(&self) -> &Usage {
        &self.usage
    }

    /// The one buffer of every payload, and where each event's is in it.
    pub(crate) fn into_parts(self) -> (Vec<u8>, Vec<EncodedEvent>) {
        (self.payloads, self.events)
    }
}
