//! The distinct ids an event names: its own, and the other id of the identity link it makes
//! (`$anon_distinct_id`, `alias`, `previous_id`, the properties ingest's links are read
//! from). One list for both sides of an erasure: it deletes every message naming one of the
//! person's ids ([`super::scrub`]), and the sink drops every event that still arrives naming an
//! erased id ([`super::arrivals`], `sink replay`), so that no stored row or message holds one.

use std::borrow::Cow;

use contract::event::Event;
use serde_json::Value;

use crate::row::EventRow;

/// The properties naming the other id of an identity link.
pub(crate) const LINK_PROPERTIES: [&str; 3] = ["$anon_distinct_id", "alias", "previous_id"];

/// The ids a stored row names: its `distinct_id`, and the values of its link properties.
pub(crate) fn named_by_row(row: &EventRow) -> impl Iterator<Item = &str> {
    let linked = row
        .prop_keys
        .iter()
        .zip(&row.prop_values)
        .filter(|(key, _)| LINK_PROPERTIES.contains(&key.as_str()))
        .map(|(_, value)| value.as_str());
    std::iter::once(row.distinct_id.as_str()).chain(linked)
}

/// The ids an event names, as its stored row would: a link property that is no string by its
/// JSON text (a number `42` names `"42"`, as ingest's link reads it).
pub(crate) fn named_by_event(event: &Event) -> impl Iterator<Item = Cow<'_, str>> {
    let linked = LINK_PROPERTIES
        .iter()
        .filter_map(|key| event.properties.get(*key))
        .map(|value| match value {
            Value::String(id) => Cow::Borrowed(id.as_str()),
            other => Cow::Owned(other.to_string()),
        });
    std::iter::once(Cow::Borrowed(event.distinct_id.as_str())).chain(linked)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn an_event_and_its_row_name_the_same_ids() {
        let event: Event = serde_json::from_value(json!({
            "event_id": Uuid::now_v7(), "project_id": Uuid::now_v7(), "kind": "alias",
            "event": "e", "distinct_id": "user-1", "timestamp": "2026-01-01T00:00:00Z",
            "received_at": "2026-01-01T00:00:00Z",
            "properties": { "$anon_distinct_id": "anon-1", "previous_id": 42, "note": "anon-2" },
        }))
        .expect("an event");
        let mut of_event: Vec<String> = named_by_event(&event).map(Cow::into_owned).collect();
        let row = EventRow::new(event, 1);
        let mut of_row: Vec<String> = named_by_row(&row).map(str::to_owned).collect();
        of_event.sort_unstable();
        of_row.sort_unstable();
        assert_eq!(of_event, ["42", "anon-1", "user-1"]);
        assert_eq!(of_row, of_event);
    }
}
