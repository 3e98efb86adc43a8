//! The Segment HTTP tracking API: `/v1/track|page|screen|identify|group|alias`, `/v1/batch`,
//! `/v1/b`, `/b`. The write key comes from `Authorization: Basic base64(key:)` or the body's
//! `writeKey`; `messageId` is the event id.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use contract::event::{Event, EventContext, EventKind};

use crate::body::BodyError;
use crate::json::{Bounded, Budget, bounded_events, scalars_are};
use crate::wire::fields::{MAX_PROPERTIES, event_id, not_in_future, parse_time};
use crate::wire::urls::split_url;

/// The write key of `Authorization: Basic base64(key:)`.
pub(crate) fn basic_auth_key(header: Option<&str>) -> Option<String> {
    let encoded = header?.strip_prefix("Basic ")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let key = text.split(':').next().unwrap_or_default();
    (!key.is_empty()).then(|| key.to_owned())
}

/// A parsed API call (one message, or a batch of them): its messages, the body's write key and
/// `sentAt`.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) write_key: Option<String>,
    pub(crate) sent_at: Option<OffsetDateTime>,
    /// Each message, or why it was dropped while read.
    pub(crate) messages: Vec<Result<Value, String>>,
}

/// `kind` is the route's type (`track`, …) or `None` for batch routes. The body is read within
/// a [`Budget`]: a batch holds at most [`crate::body::MAX_EVENTS`] messages, each within its share.
pub(crate) fn parse(json: &[u8], kind: Option<EventKind>) -> Result<Call, BodyError> {
    let budget = Budget::default();
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let read = match kind {
        Some(_) => Bounded(&budget)
            .deserialize(&mut deserializer)
            .map(Top::Message),
        None => BatchBody(&budget).deserialize(&mut deserializer),
    };
    let top = read
        .and_then(|top| deserializer.end().map(|()| top))
        .map_err(|err| budget.error(&err))?;
    match (top, kind) {
        // A single call's message over its share was read and dropped.
        (Top::Message(_), Some(_)) if budget.event_over() => Err(BodyError::EventTooLarge),
        (Top::Message(Value::Object(mut object)), Some(kind)) => {
            let (write_key, sent_at) = key_and_time(object.get("writeKey"), object.get("sentAt"));
            object
                .entry("type")
                .or_insert_with(|| Value::String(kind.as_str().to_owned()));
            Ok(Call {
                write_key,
                sent_at,
                messages: vec![Ok(Value::Object(object))],
            })
        }
        (
            Top::Batch {
                write_key,
                sent_at,
                batch,
            },
            None,
        ) => {
            let (write_key, sent_at) = key_and_time(write_key.as_ref(), sent_at.as_ref());
            let messages =
                batch.ok_or_else(|| BodyError::Invalid("batch: must be an array".to_owned()))?;
            Ok(Call {
                write_key,
                sent_at,
                messages,
            })
        }
        _ => Err(BodyError::Invalid(
            "the body must be a JSON object".to_owned(),
        )),
    }
}

/// The body's `writeKey` and `sentAt`, when they are strings.
fn key_and_time(
    write_key: Option<&Value>,
    sent_at: Option<&Value>,
) -> (Option<String>, Option<OffsetDateTime>) {
    (
        write_key.and_then(Value::as_str).map(str::to_owned),
        sent_at.and_then(Value::as_str).and_then(parse_time),
    )
}

/// A body as read.
enum Top {
    /// The message of a single call.
    Message(Value),
    /// A batch route's body: `batch` is `None` when it is missing or not an array.
    Batch {
        write_key: Option<Value>,
        sent_at: Option<Value>,
        batch: Option<Vec<Result<Value, String>>>,
    },
    /// Anything but an object on a batch route.
    NotObject,
}

/// Reads a batch route's body: `writeKey`, `sentAt` and the messages of `batch`; other keys
/// are skipped without being built.
struct BatchBody<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for BatchBody<'_> {
    type Value = Top;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Top, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchBody<'_> {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let (mut write_key, mut sent_at, mut batch) = (None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "writeKey" => write_key = Some(map.next_value_seed(Bounded(self.0))?),
                "sentAt" => sent_at = Some(map.next_value_seed(Bounded(self.0))?),
                "batch" => batch = map.next_value_seed(Messages(self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Top::Batch {
            write_key,
            sent_at,
            batch,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject)
    }
    scalars_are!(Top::NotObject);
}

/// Reads `batch`: its messages, each within its share of the budget (`Err` names a message
/// dropped for its size), or `None` when it is not an array.
struct Messages<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Messages<'_> {
    type Value = Option<Vec<Result<Value, String>>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Messages<'_> {
    type Value = Option<Vec<Result<Value, String>>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of messages")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let budget = self.0;
        bounded_events(seq, budget, |seq| {
            let message = seq.next_element_seed(Bounded(budget))?;
            Ok(message.map(|message| {
                if budget.event_over() {
                    Err(BodyError::EventTooLarge.to_string())
                } else {
                    Ok(message)
                }
            }))
        })
        .map(Some)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are!(None);
}

/// Normalises one Segment message; the error names the field.
pub(crate) fn normalise(
    message: Value,
    project_id: Uuid,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
    ip: &str,
) -> Result<Event, String> {
    let Value::Object(mut object) = message else {
        return Err("a message must be a JSON object".to_owned());
    };
    let kind = match object.get("type").and_then(Value::as_str) {
        Some("track") => EventKind::Track,
        Some("page") => EventKind::Page,
        Some("screen") => EventKind::Screen,
        Some("identify") => EventKind::Identify,
        Some("group") => EventKind::Group,
        Some("alias") => EventKind::Alias,
        _ => return Err("type: must be track, page, screen, identify, group or alias".to_owned()),
    };
    // Moved out of the message, not copied: nothing below reads them from it.
    let properties = object
        .remove("properties")
        .or_else(|| object.remove("traits"));
    let distinct_id = string(&object, "userId")
        .or_else(|| string(&object, "anonymousId"))
        .ok_or("userId or anonymousId: is required")?;
    let mut properties = match properties {
        Some(Value::Object(properties)) => properties,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("properties: must be an object".to_owned()),
    };
    if properties.len() > MAX_PROPERTIES {
        return Err(format!("properties: at most {MAX_PROPERTIES} keys"));
    }
    if kind == EventKind::Identify {
        identified(&object, &distinct_id, &mut properties);
    }
    let event = event_name(kind, &object)?;
    for (key, name) in [
        ("name", "name"),
        ("previousId", "previous_id"),
        ("groupId", "group_id"),
    ] {
        if let Some(value) = string(&object, key) {
            properties.insert(name.to_owned(), Value::String(value));
        }
    }
    let event_id =
        string(&object, "messageId").map_or_else(Uuid::now_v7, |id| event_id(project_id, &id));
    let timestamp = not_in_future(
        event_time(&object, sent_at, received_at),
        received_at,
        &mut properties,
    );
    let context = context_of(&object, &mut properties, ip);
    Ok(Event {
        event_id,
        project_id,
        kind,
        event,
        distinct_id,
        user_id: None,
        session_id: None,
        timestamp,
        received_at,
        properties,
        context,
    })
}

/// What an `identify` call says about its person, in PostHog's words so that one rule reads
/// both: its traits (its properties) are also its `$set`, which the sink keeps as person
/// properties, and an `anonymousId` sent with a `userId` is its `$anon_distinct_id`, which
/// ingest publishes as an identity link.
fn identified(object: &Map<String, Value>, distinct_id: &str, properties: &mut Map<String, Value>) {
    if !properties.is_empty() && !properties.contains_key("$set") {
        let traits = Value::Object(properties.clone());
        properties.insert("$set".to_owned(), traits);
    }
    if let Some(anonymous_id) = string(object, "anonymousId") {
        if anonymous_id != distinct_id {
            properties.insert("$anon_distinct_id".to_owned(), Value::String(anonymous_id));
        }
    }
}

/// The message's `key` when it is a non-empty string or a number.
fn string(object: &Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    }
}

/// The event's name: `event` for a track call, PostHog's reserved names for the others.
fn event_name(kind: EventKind, object: &Map<String, Value>) -> Result<String, String> {
    Ok(match kind {
        EventKind::Track => match object.get("event") {
            Some(Value::String(name)) if !name.trim().is_empty() && name.len() <= 200 => {
                name.clone()
            }
            _ => {
                return Err(
                    "event: is required for track, a string of 1 to 200 characters".to_owned(),
                );
            }
        },
        EventKind::Page => "$pageview".to_owned(),
        EventKind::Screen => "$screen".to_owned(),
        EventKind::Identify => "$identify".to_owned(),
        EventKind::Group => "$groupidentify".to_owned(),
        EventKind::Alias => "$create_alias".to_owned(),
        // Segment has no engagement call (its kind is never read off the wire as one).
        EventKind::Engagement => contract::event::ENGAGEMENT_EVENT.to_owned(),
    })
}

/// When the message happened, on the server's clock: its time shifted by the client's skew
/// (`sentAt`, the message's or the body's).
fn event_time(
    object: &Map<String, Value>,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
) -> OffsetDateTime {
    let time_of = |key: &str| object.get(key).and_then(Value::as_str).and_then(parse_time);
    let sent_at = time_of("sentAt").or(sent_at);
    match (time_of("originalTimestamp"), time_of("timestamp"), sent_at) {
        (Some(original), _, Some(sent)) => received_at + (original - sent),
        (_, Some(timestamp), Some(sent)) => received_at + (timestamp - sent),
        (_, Some(timestamp), None) => timestamp,
        _ => received_at,
    }
}

/// Page, referrer, library and campaign from the message's `context` (the page's fields also
/// from the properties); its user agent and address are kept in the properties (`$ip`), for
/// the enrichment to read.
fn context_of(
    object: &Map<String, Value>,
    properties: &mut Map<String, Value>,
    ip: &str,
) -> EventContext {
    let context = object.get("context").and_then(Value::as_object);
    let page = context
        .and_then(|c| c.get("page"))
        .and_then(Value::as_object);
    let page_text = |key: &str| {
        page.and_then(|p| p.get(key))
            .or_else(|| properties.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let url = page_text("url");
    let referrer = page_text("referrer");
    let page_path = page_text("path");
    let (host, path) = split_url(&url);
    if let Some(agent) = context
        .and_then(|c| c.get("userAgent"))
        .and_then(Value::as_str)
    {
        properties.insert(
            "$raw_user_agent".to_owned(),
            Value::String(agent.to_owned()),
        );
    }
    if let Some(ip) = context.and_then(|c| c.get("ip")).and_then(Value::as_str) {
        properties.insert("$ip".to_owned(), Value::String(ip.to_owned()));
    }
    let campaign = |key: &str| {
        context
            .and_then(|c| c.get("campaign"))
            .and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let lib = context
        .and_then(|c| c.get("library"))
        .and_then(|l| l.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    EventContext {
        path: if path.is_empty() { page_path } else { path },
        host,
        url,
        referrer_domain: split_url(&referrer).0,
        referrer,
        lib,
        ip: ip.to_owned(),
        utm_source: campaign("source"),
        utm_medium: campaign("medium"),
        utm_campaign: campaign("name"),
        utm_term: campaign("term"),
        utm_content: campaign("content"),
        ..EventContext::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_write_key_comes_from_basic_auth() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ea_key:")
        );
        assert_eq!(basic_auth_key(Some(&header)).as_deref(), Some("ea_key"));
        assert_eq!(basic_auth_key(Some("Bearer x")), None);
    }

    #[test]
    fn batches_are_counted_and_sized_while_read() {
        let flood = format!(
            r#"{{"writeKey":"k","batch":[{}{{}}]}}"#,
            "{},".repeat(7_000_000)
        );
        assert_eq!(
            parse(flood.as_bytes(), None).err(),
            Some(BodyError::TooManyEvents)
        );
        let zeros = format!("[{}0]", "0,".repeat(50_000));
        let big = format!(
            r#"{{"writeKey":"k","sentAt":"2026-01-01T00:00:00Z","ignored":[1],"batch":[{{"properties":{{"a":{zeros}}}}},{{"type":"track"}}]}}"#
        );
        let body = parse(big.as_bytes(), None).expect("reads");
        assert_eq!(
            (body.write_key.as_deref(), body.sent_at.is_some()),
            (Some("k"), true)
        );
        assert_eq!(
            body.messages[0].as_ref().err().map(String::as_str),
            Some(BodyError::EventTooLarge.to_string().as_str())
        );
        assert_eq!(
            body.messages[1].as_ref().ok(),
            Some(&json!({ "type": "track" }))
        );
        let single = format!(r#"{{"event":"e","properties":{{"a":{zeros}}}}}"#);
        assert_eq!(
            parse(single.as_bytes(), Some(EventKind::Track)).err(),
            Some(BodyError::EventTooLarge)
        );
        assert!(matches!(
            parse(br#"{"batch":{}}"#, None),
            Err(BodyError::Invalid(_))
        ));
        assert!(matches!(parse(b"[1]", None), Err(BodyError::Invalid(_))));
        let track =
            parse(br#"{"event":"e","writeKey":"k"}"#, Some(EventKind::Track)).expect("reads");
        assert_eq!(
            track.messages[0].as_ref().ok().map(|m| m["type"].clone()),
            Some(json!("track"))
        );
    }

    #[test]
    fn node_message_ids_and_types_normalise() {
        let project = Uuid::now_v7();
        let now = OffsetDateTime::now_utc();
        let message = json!({
            "type": "track", "event": "Order Completed", "userId": "u1",
            "messageId": "node-next-1700000000000-abc", "properties": { "total": 30 },
            "context": { "library": { "name": "@segment/analytics-node" } }
        });
        let event = normalise(message, project, None, now, "").expect("normalises");
        assert_eq!(
            event.event_id,
            event_id(project, "node-next-1700000000000-abc")
        );
        assert_eq!(
            (event.event.as_str(), event.distinct_id.as_str()),
            ("Order Completed", "u1")
        );
        assert_eq!(event.context.lib, "@segment/analytics-node");
        let page = json!({ "type": "page", "anonymousId": "a", "name": "Home", "properties": { "url": "https://x.example/a" } });
        let event = normalise(page, project, None, now, "").expect("normalises");
        assert_eq!(
            (event.event.as_str(), event.context.path.as_str()),
            ("$pageview", "/a")
        );
        let identify = json!({
            "type": "identify", "userId": "user-1", "anonymousId": "anon-1",
            "traits": { "plan": "pro", "seats": 3 }
        });
        let event = normalise(identify, project, None, now, "").expect("normalises");
        assert_eq!(
            Value::Object(event.properties),
            json!({
                "plan": "pro", "seats": 3, "$set": { "plan": "pro", "seats": 3 },
                "$anon_distinct_id": "anon-1"
            }),
            "the traits stay the event's properties and are its person's too"
        );
        let alone = json!({ "type": "identify", "anonymousId": "anon-1" });
        let event = normalise(alone, project, None, now, "").expect("normalises");
        assert!(
            event.properties.is_empty(),
            "an anonymous id alone links nothing"
        );
        assert!(
            normalise(
                json!({ "type": "track", "userId": "u" }),
                project,
                None,
                now,
                ""
            )
            .is_err()
        );
    }
}
