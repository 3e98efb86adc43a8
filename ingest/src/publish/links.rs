//! The identity link an event makes, published to `PERSONS` beside the event: PostHog's
//! `$identify` with `$anon_distinct_id` and `$create_alias` with `alias`, Segment's `identify`
//! with `anonymousId` and `userId` (which the wire format keeps as `$anon_distinct_id`) and
//! `alias` with `previousId` (kept as `previous_id`).

use contract::event::{Event, EventKind};
use contract::persons::Link;
use serde_json::Value;

/// The link `event` makes, if any: its `distinct_id` is the identified id, kept; the other id
/// joins that person. An event naming one id twice makes none.
pub(crate) fn link_of(event: &Event) -> Option<Link> {
    let other = |key: &str| match event.properties.get(key) {
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    let other_id = match event.kind {
        EventKind::Identify => other("$anon_distinct_id"),
        EventKind::Alias => other("alias").or_else(|| other("previous_id")),
        _ => None,
    }?;
    (other_id != event.distinct_id).then(|| Link {
        project_id: event.project_id,
        distinct_id: event.distinct_id.clone(),
        other_id,
        event_id: event.event_id,
        timestamp: event.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn event(kind: EventKind, distinct_id: &str, properties: Value) -> Event {
        Event {
            event_id: Uuid::now_v7(),
            project_id: Uuid::now_v7(),
            kind,
            event: "e".to_owned(),
            distinct_id: distinct_id.to_owned(),
            user_id: None,
            session_id: None,
            timestamp: OffsetDateTime::UNIX_EPOCH,
            received_at: OffsetDateTime::UNIX_EPOCH,
            properties: properties.as_object().cloned().unwrap_or_default(),
            context: contract::event::EventContext::default(),
        }
    }

    fn ids(link: Option<Link>) -> Option<(String, String)> {
        link.map(|link| (link.distinct_id, link.other_id))
    }

    #[test]
    fn identify_and_alias_link_their_two_ids_and_nothing_else_does() {
        let pair = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        let identify = event(
            EventKind::Identify,
            "user-1",
            json!({ "$anon_distinct_id": "anon-1" }),
        );
        let link = link_of(&identify).expect("a link");
        assert_eq!(
            (link.event_id, link.project_id),
            (identify.event_id, identify.project_id)
        );
        assert_eq!(ids(Some(link)), pair("user-1", "anon-1"));
        let alias = event(EventKind::Alias, "user-1", json!({ "alias": "anon-2" }));
        assert_eq!(ids(link_of(&alias)), pair("user-1", "anon-2"));
        let segment_alias = event(EventKind::Alias, "user-1", json!({ "previous_id": 42 }));
        assert_eq!(ids(link_of(&segment_alias)), pair("user-1", "42"));

        for (kind, properties) in [
            (EventKind::Identify, json!({})),
            (
                EventKind::Identify,
                json!({ "$anon_distinct_id": "user-1" }),
            ),
            (EventKind::Identify, json!({ "$anon_distinct_id": "" })),
            (EventKind::Alias, json!({ "alias": ["x"] })),
            (
                EventKind::Track,
                json!({ "$anon_distinct_id": "anon-1", "alias": "x" }),
            ),
        ] {
            assert_eq!(
                link_of(&event(kind, "user-1", properties.clone())),
                None,
                "{properties}"
            );
        }
    }
}
