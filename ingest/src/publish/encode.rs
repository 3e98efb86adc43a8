//! A request's events serialised once, for the size check and for the stream, one after the
//! other into one buffer that every message shares; with them the identity links they make,
//! for `PERSONS`.

use contract::event::{Event, EventKind};
use contract::persons::Link;

use crate::body::MAX_EVENT_BYTES;
use crate::publish::links::link_of;
use crate::publish::quota::Usage;

/// A request's events ready to publish.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    payloads: Vec<u8>,
    events: Vec<EncodedEvent>,
    /// The identity links the events make, published after them.
    links: Vec<EncodedEvent>,
    /// The subjects of this request so far: one or two, for a request of one project.
    subjects: Vec<(uuid::Uuid, EventKind, async_nats::Subject)>,
    /// The link subject of each project of this request so far.
    link_subjects: Vec<(uuid::Uuid, async_nats::Subject)>,
    /// Events and bytes by project, for the intake quotas.
    usage: Usage,
}

/// One message of [`Encoded`], an event or a link: its payload is `payloads[start..end]`.
#[derive(Debug)]
pub(crate) struct EncodedEvent {
    pub(crate) subject: async_nats::Subject,
    /// The `Nats-Msg-Id`: the event id, or for a link the id [`Link::message_id`] derives
    /// from it.
    pub(crate) message_id: uuid::Uuid,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Encoded {
    pub(crate) fn with_capacity(events: usize) -> Self {
        Self {
            // About what a small browser event takes.
            payloads: Vec::with_capacity(events * 512),
            events: Vec::with_capacity(events),
            links: Vec::new(),
            subjects: Vec::new(),
            link_subjects: Vec::new(),
            usage: Usage::default(),
        }
    }

    /// Serialises `event`, and the identity link it makes; an event over [`MAX_EVENT_BYTES`]
    /// is refused. Links are not charged to the quotas: an event makes at most one.
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
        let end = self.payloads.len();
        if let Some(link) = link_of(event) {
            if let Err(err) = self.push_link(&link) {
                self.payloads.truncate(start);
                return Err(format!("cannot encode the identity link: {err}"));
            }
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
            message_id: event.event_id,
            start,
            end,
        });
        self.usage.add(event.project_id, end - start);
        Ok(())
    }

    /// Serialises `link` after the payloads.
    fn push_link(&mut self, link: &Link) -> serde_json::Result<()> {
        let start = self.payloads.len();
        serde_json::to_writer(&mut self.payloads, link)?;
        let known = self
            .link_subjects
            .iter()
            .find(|(project_id, _)| *project_id == link.project_id);
        let subject = match known {
            Some((_, subject)) => subject.clone(),
            None => {
                let subject = async_nats::Subject::from(contract::streams::person_link_subject(
                    &link.project_id.to_string(),
                ));
                self.link_subjects.push((link.project_id, subject.clone()));
                subject
            }
        };
        self.links.push(EncodedEvent {
            subject,
            message_id: Link::message_id(link.event_id),
            start,
            end: self.payloads.len(),
        });
        Ok(())
    }

    /// Events encoded (links not counted).
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

    /// The one buffer of every payload, and where each message's is in it: the events, then
    /// the links.
    pub(crate) fn into_parts(self) -> (Vec<u8>, Vec<EncodedEvent>) {
        let mut messages = self.events;
        messages.extend(self.links);
        (self.payloads, messages)
    }
}
