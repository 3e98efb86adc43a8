//! One row of the events table, made from an event: what the sink, `sink replay` and the
//! benchmarks write.

use contract::event::Event;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use uuid::Uuid;

/// One row of `events`, in the column order of the table.
#[derive(Debug, Clone, clickhouse::Row, Serialize)]
pub struct EventRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub project_id: Uuid,
    /// Days since 1970-01-01 (ClickHouse `Date`).
    pub date: u16,
    /// Seconds since the epoch (ClickHouse `DateTime`).
    pub timestamp: u32,
    pub event: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub kind: String,
    pub distinct_id: String,
    pub user_id: String,
    pub session_id: String,
    pub received_at: u32,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
    pub url: String,
    pub host: String,
    pub path: String,
    pub referrer: String,
    pub referrer_domain: String,
    pub browser: String,
    pub os: String,
    pub device_type: String,
    pub lib: String,
    pub ip: String,
    pub is_bot: u8,
    pub country: String,
    pub region: String,
    pub city: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_term: String,
    pub utm_content: String,
    pub channel: String,
    pub stream_sequence: u64,
}

/// An event's properties as the row stores them: each key beside its value's text (a string
/// as itself, anything else as its JSON), in key order, a repeated key's last value kept.
#[derive(Debug, Default)]
pub(crate) struct PropertyColumns {
    keys: Vec<String>,
    values: Vec<String>,
}

impl PropertyColumns {
    /// From `pairs` in any order, a repeated key's last value kept (as a JSON object read into
    /// a map keeps it).
    fn from_pairs(mut pairs: Vec<(String, String)>) -> Self {
        if !pairs.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            pairs.reverse();
            // Stable: of a repeated key, the last value comes first now, and is kept.
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.dedup_by(|later, first| later.0 == first.0);
        }
        let (keys, values) = pairs.into_iter().unzip();
        Self { keys, values }
    }
}

impl<'de> Deserialize<'de> for PropertyColumns {
    /// Reads the object straight into the columns: a value's JSON text is taken as it came
    /// (a string unescaped), with no tree of values built and written out again. Ingest writes
    /// every object with its keys in order and numbers as serde_json prints them, so the text
    /// is the one a parsed value would print.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Columns;
        impl<'de> Visitor<'de> for Columns {
            type Value = PropertyColumns;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of properties")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PropertyColumns, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    let text = value.get();
                    let text = if text.starts_with('"') {
                        serde_json::from_str::<String>(text).map_err(serde::de::Error::custom)?
                    } else {
                        text.to_owned()
                    };
                    pairs.push((key, text));
                }
                Ok(PropertyColumns::from_pairs(pairs))
            }
        }
        deserializer.deserialize_map(Columns)
    }
}

impl EventRow {
    /// The row of the event a stream message holds, stored from stream sequence `sequence`:
    /// read straight into the row's columns (see [`PropertyColumns`]).
    pub fn decode(payload: &[u8], sequence: u64) -> Result<Self, serde_json::Error> {
        let event: Event<PropertyColumns> = serde_json::from_slice(payload)?;
        Ok(Self::of(event, sequence))
    }

    /// The row of `event`, stored from stream sequence `sequence`.
    pub fn new(event: Event, sequence: u64) -> Self {
        let event = event.map_properties(|properties| {
            PropertyColumns::from_pairs(
                properties
                    .into_iter()
                    .map(|(key, value)| {
                        let text = match value {
                            serde_json::Value::String(text) => text,
                            other => other.to_string(),
                        };
                        (key, text)
                    })
                    .collect(),
            )
        });
        Self::of(event, sequence)
    }

    fn of(event: Event<PropertyColumns>, sequence: u64) -> Self {
        let seconds = |at: time::OffsetDateTime| {
            u32::try_from(at.unix_timestamp().max(0)).unwrap_or(u32::MAX)
        };
        let PropertyColumns {
            keys: prop_keys,
            values: prop_values,
        } = event.properties;
        let context = event.context;
        Self {
            project_id: event.project_id,
            date: u16::try_from(event.timestamp.unix_timestamp().max(0) / 86_400)
                .unwrap_or(u16::MAX),
            timestamp: seconds(event.timestamp),
            event: event.event,
            event_id: event.event_id,
            kind: event.kind.as_str().to_owned(),
            distinct_id: event.distinct_id,
            user_id: event.user_id.map(|id| id.to_string()).unwrap_or_default(),
            session_id: event.session_id.unwrap_or_default(),
            received_at: seconds(event.received_at),
            prop_keys,
            prop_values,
            url: context.url,
            host: context.host,
            path: context.path,
            referrer: context.referrer,
            referrer_domain: context.referrer_domain,
            browser: context.browser,
            os: context.os,
            device_type: context.device_type,
            lib: context.lib,
            ip: context.ip,
            is_bot: u8::from(context.is_bot),
            country: context.country,
            region: context.region,
            city: context.city,
            utm_source: context.utm_source,
            utm_medium: context.utm_medium,
            utm_campaign: context.utm_campaign,
            utm_term: context.utm_term,
            utm_content: context.utm_content,
            channel: context.channel,
            stream_sequence: sequence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(properties: serde_json::Value) -> serde_json::Value {
        json!({
            "event_id": "0193a1c2-7d3e-7a00-8000-000000000001",
            "project_id": "0193a1c2-7d3e-7a00-8000-0000000000aa",
            "kind": "track",
            "event": "Signed \"Up\"",
            "distinct_id": "user-1",
            "timestamp": "2026-12-06T10:00:00Z",
            "received_at": "2026-12-06T10:00:01Z",
            "properties": properties,
            "context": { "browser": "Firefox", "path": "/a" }
        })
    }

    fn columns(row: &EventRow) -> Vec<(String, String)> {
        row.prop_keys
            .iter()
            .cloned()
            .zip(row.prop_values.iter().cloned())
            .collect()
    }

    #[test]
    fn a_message_decodes_into_the_row_its_event_makes() {
        // Every kind of value, as ingest writes an event (its map serialised in key order).
        let written = event(json!({
            "text": "caf\u{e9} \"quoted\" \\ back\nline \u{1F600}",
            "int": 42, "negative": -7, "big": 18_446_744_073_709_551_615_u64, "float": 1.5,
            "small": 0.000_001, "yes": true, "no": false, "nothing": null,
            "list": [1, "two", {"three": 3.0}], "object": {"b": [], "a": {}},
            "": "empty key", "$current_url": "https://shop.example/p?q=1&r=%20"
        }));
        let payload = serde_json::to_vec(&written).expect("json");
        let decoded = EventRow::decode(&payload, 7).expect("decodes");
        let event: Event = serde_json::from_slice(&payload).expect("an event");
        let made = EventRow::new(event, 7);
        assert_eq!(columns(&decoded), columns(&made));
        assert_eq!(
            serde_json::to_value(&decoded).expect("json"),
            serde_json::to_value(&made).expect("json"),
            "every column alike"
        );
        assert_eq!(decoded.event, "Signed \"Up\"");
        assert_eq!(decoded.stream_sequence, 7);
    }

    #[test]
    fn properties_out_of_order_or_repeated_are_stored_as_a_map_reads_them() {
        let payload = br#"{"event_id":"0193a1c2-7d3e-7a00-8000-000000000001","project_id":"0193a1c2-7d3e-7a00-8000-0000000000aa","kind":"track","event":"e","distinct_id":"u","timestamp":"2026-12-06T10:00:00Z","received_at":"2026-12-06T10:00:00Z","properties":{"b":"1","a":{"x":2,"y":1},"b":"2","c":null}}"#;
        let decoded = EventRow::decode(payload, 1).expect("decodes");
        let read: Event = serde_json::from_slice(payload).expect("an event");
        assert_eq!(columns(&decoded), columns(&EventRow::new(read, 1)));
        assert_eq!(decoded.prop_keys, ["a", "b", "c"]);
        assert_eq!(
            decoded.prop_values[1], "2",
            "the last value of a repeated key"
        );
        // Without properties at all, and with a body that is no event.
        let bare = serde_json::to_vec(&event(json!({}))).expect("json");
        assert!(
            EventRow::decode(&bare, 1)
                .expect("decodes")
                .prop_keys
                .is_empty()
        );
        assert!(EventRow::decode(br#"{"properties": 5}"#, 1).is_err());
        assert!(EventRow::decode(b"not json", 1).is_err());
    }
}
