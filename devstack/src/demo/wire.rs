//! The events as their SDKs send them, packed into request bodies.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::plan::MAX_BATCH_EVENTS;

/// A request body stays well under ingest's 1 MiB limit.
pub(super) const MAX_BATCH_BYTES: usize = 768 * 1024;

/// The SDK route an event goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Wire {
    /// posthog-js in the visitor's browser: `/batch/`.
    Posthog,
    /// The shop's server with Segment's Node library: `/v1/batch`.
    Segment,
}

impl Wire {
    pub(super) fn path(self) -> &'static str {
        match self {
            Wire::Posthog => "/batch/",
            Wire::Segment => "/v1/batch",
        }
    }
}

/// One made-up event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DemoEvent {
    pub(crate) id: Uuid,
    pub(crate) event: &'static str,
    pub(crate) distinct_id: String,
    pub(crate) timestamp: OffsetDateTime,
    pub(crate) wire: Wire,
    pub(crate) properties: Map<String, Value>,
}

impl DemoEvent {
    /// The event as its SDK puts it in a batch.
    fn to_wire(&self) -> Value {
        let timestamp = self
            .timestamp
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.timestamp.to_string());
        match self.wire {
            Wire::Posthog => json!({
                "uuid": self.id.to_string(),
                "event": self.event,
                "distinct_id": self.distinct_id,
                "timestamp": timestamp,
                "properties": self.properties,
            }),
            Wire::Segment => json!({
                "type": "track",
                "messageId": self.id.to_string(),
                "event": self.event,
                "anonymousId": self.distinct_id,
                "timestamp": timestamp,
                "properties": self.properties,
                "context": { "library": { "name": "analytics-node", "version": "2.1.0" } },
            }),
        }
    }
}

/// One request: its route, its body and how many events it carries.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) wire: Wire,
    pub(crate) body: String,
    pub(crate) events: usize,
}

/// The request bodies that carry `events`: at most `size` events and [`MAX_BATCH_BYTES`] each,
/// one route per body, in time order within each route.
pub(crate) fn batches(events: &[DemoEvent], write_key: &str, size: usize) -> Vec<Batch> {
    let size = size.clamp(1, MAX_BATCH_EVENTS);
    let mut done = Vec::new();
    let mut open: BTreeMap<Wire, (Vec<String>, usize)> = BTreeMap::new();
    let close = |wire: Wire, items: Vec<String>| {
        let key_field = match wire {
            Wire::Posthog => "api_key",
            Wire::Segment => "writeKey",
        };
        Batch {
            wire,
            events: items.len(),
            body: format!(
                "{{{}:{},\"batch\":[{}]}}",
                Value::from(key_field),
                Value::from(write_key),
                items.join(",")
            ),
        }
    };
    for event in events {
        let text = event.to_wire().to_string();
        let (items, bytes) = open.entry(event.wire).or_default();
        if !items.is_empty() && (items.len() >= size || *bytes + text.len() > MAX_BATCH_BYTES) {
            done.push(close(event.wire, std::mem::take(items)));
            *bytes = 0;
        }
        *bytes += text.len() + 1;
        items.push(text);
    }
    for (wire, (items, _)) in open {
        if !items.is_empty() {
            done.push(close(wire, items));
        }
    }
    done
}
