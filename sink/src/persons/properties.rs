//! The person properties events set, as rows of `person_properties`: one per key of an
//! event's `$set` and `$set_once` objects (PostHog's; Segment's `identify` has its traits as its
//! `$set` too, ingest sees to it). Written before the events that set them, with every insert
//! of events, so that an event found stored on a retry has its properties stored as well; a
//! copy writes the same rows, which the table merges away.
//!
//! A person's property is then the latest `$set` value by time across the person's ids, else
//! the first `$set_once` value.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::row::EventRow;

/// Most keys taken from one `$set` or `$set_once` object (an event has at most 1000
/// properties; so may each of its objects).
const MAX_KEYS: usize = 1000;

/// One row of `person_properties`, in the column order of the table.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize)]
pub(crate) struct PropertyRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub(crate) project_id: Uuid,
    pub(crate) distinct_id: String,
    pub(crate) key: String,
    /// A string as it is, anything else as its JSON text (as event properties are stored).
    pub(crate) value: String,
    /// The event's time, seconds since the epoch.
    pub(crate) timestamp: u32,
    pub(crate) set_once: u8,
    #[serde(with = "clickhouse::serde::uuid")]
    pub(crate) event_id: Uuid,
}

/// The properties `rows` set on their persons.
pub(crate) fn rows_of(rows: &[EventRow]) -> Vec<PropertyRow> {
    let mut properties = Vec::new();
    for row in rows {
        for (name, text) in row.prop_keys.iter().zip(&row.prop_values) {
            let set_once = match name.as_str() {
                "$set" => 0,
                "$set_once" => 1,
                _ => continue,
            };
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            properties.extend(
                object
                    .into_iter()
                    .take(MAX_KEYS)
                    .map(|(key, value)| PropertyRow {
                        project_id: row.project_id,
                        distinct_id: row.distinct_id.clone(),
                        key,
                        value: match value {
                            Value::String(text) => text,
                            other => other.to_string(),
                        },
                        timestamp: row.timestamp,
                        set_once,
                        event_id: row.event_id,
                    }),
            );
        }
    }
    properties
}

/// Writes the properties `rows` set, if any, in one insert.
pub(crate) async fn insert(
    clickhouse: &clickhouse::Client,
    rows: &[EventRow],
) -> Result<(), clickhouse::error::Error> {
    let properties = rows_of(rows);
    if properties.is_empty() {
        return Ok(());
    }
    let mut insert = clickhouse
        .insert::<PropertyRow>("person_properties")
        .await?;
    for property in &properties {
        insert.write(property).await?;
    }
    insert.end().await
}

#[cfg(test)]
mod tests {
    use contract::event::{Event, EventContext, EventKind};
    use serde_json::json;

    use super::*;

    fn row(properties: Value) -> EventRow {
        let event = Event {
            event_id: Uuid::now_v7(),
            project_id: Uuid::now_v7(),
            kind: EventKind::Identify,
            event: "$identify".to_owned(),
            distinct_id: "user-1".to_owned(),
            user_id: None,
            session_id: None,
            timestamp: time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(60),
            received_at: time::OffsetDateTime::UNIX_EPOCH,
            properties: properties.as_object().cloned().unwrap_or_default(),
            context: EventContext::default(),
        };
        EventRow::new(event, 1)
    }

    #[test]
    fn each_key_of_set_and_set_once_is_a_row_and_other_properties_are_not() {
        let event = row(json!({
            "$set": { "plan": "pro", "seats": 3, "tags": ["a"] },
            "$set_once": { "first_seen_plan": "free" },
            "$current_url": "https://x.example/",
            "plan": "ignored"
        }));
        let mut rows: Vec<_> = rows_of(std::slice::from_ref(&event))
            .into_iter()
            .map(|row| (row.key, row.value, row.set_once, row.timestamp))
            .collect();
        rows.sort();
        let expected = [
            ("first_seen_plan", "free", 1),
            ("plan", "pro", 0),
            ("seats", "3", 0),
            ("tags", r#"["a"]"#, 0),
        ]
        .map(|(key, value, once)| (key.to_owned(), value.to_owned(), once, 60));
        assert_eq!(rows, expected);
        assert!(rows_of(&[row(json!({ "$set": "not an object" }))]).is_empty());
        assert!(rows_of(&[row(json!({ "plan": "pro" }))]).is_empty());
    }
}
