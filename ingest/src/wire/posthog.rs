//! The PostHog capture wire format: `/e/`, `/i/v0/e/`, `/capture/`, `/batch/`. A body is one
//! event, an array of events, or `{api_key|token, batch, sent_at}`; the project token is in
//! `api_key`, `token`, `$token` or `properties.token`, on the body or on each event. How the
//! body is read is [`super::capture`]'s; this turns its events into envelopes.

use serde::de::DeserializeSeed;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use contract::event::{Event, EventContext, EventKind};

use crate::body::{BodyError, MAX_EVENT_BYTES};
use crate::json::Budget;
use crate::wire::capture::{Batch, Field, Fields, Properties, RawEvent, Top, TopSeed};
use crate::wire::fields::{MAX_PROPERTIES, event_id, not_in_future, parse_time};
use crate::wire::urls::split_url;

/// A parsed capture request; its strings borrow from the body's bytes.
#[derive(Debug)]
pub(crate) struct Capture<'a> {
    /// Token given once for the whole body.
    pub(crate) token: Option<String>,
    pub(crate) sent_at: Option<OffsetDateTime>,
    pub(crate) events: Vec<RawEvent<'a>>,
}

/// Splits a decoded body into its events, within the read budget.
pub(crate) fn parse(json: &[u8]) -> Result<Capture<'_>, BodyError> {
    let budget = Budget::default();
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let top = TopSeed(&budget)
        .deserialize(&mut deserializer)
        .and_then(|top| deserializer.end().map(|()| top))
        .map_err(|err| budget.error(&err))?;
    let (token, sent_at, events) = match top {
        Top::Array(events) => (None, None, events),
        Top::Object(object, batch) => {
            let token = string_field([&object.api_key, &object.token, &object.dollar_token])
                .map(str::to_owned);
            let sent_at = object
                .sent_at
                .as_ref()
                .and_then(Field::as_str)
                .and_then(parse_time);
            match batch {
                Some(Batch::Array(events)) => (token, sent_at, events),
                Some(Batch::Other) => {
                    return Err(BodyError::Invalid("batch must be an array".to_owned()));
                }
                None => (token, sent_at, vec![RawEvent::Object(object)]),
            }
        }
        Top::Other => {
            return Err(BodyError::Invalid(
                "the body must be an event, an array of events or {batch: [...]}".to_owned(),
            ));
        }
    };
    Ok(Capture {
        token,
        sent_at,
        events,
    })
}

/// The project token of one event, else the body's.
pub(crate) fn token<'b>(event: &'b RawEvent<'_>, body_token: Option<&'b str>) -> Option<&'b str> {
    let RawEvent::Object(object) = event else {
        return None;
    };
    string_field([&object.api_key, &object.token, &object.dollar_token])
        .or_else(|| match &object.properties {
            Some(Properties::Object(properties)) => {
                map_string_field(properties, &["token", "$token"])
            }
            _ => None,
        })
        .or(body_token)
}

/// Normalises one PostHog event of `project_id`; the error names the field.
pub(crate) fn normalise(
    event: RawEvent<'_>,
    project_id: Uuid,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
    ip: &str,
) -> Result<Event, String> {
    let RawEvent::Object(object) = event else {
        return Err("an event must be a JSON object".to_owned());
    };
    let Fields {
        event,
        distinct_id,
        uuid,
        timestamp,
        sent_at: own_sent_at,
        offset,
        properties,
        too_large,
        ..
    } = *object;
    if too_large {
        return Err(format!("an event must be at most {MAX_EVENT_BYTES} bytes"));
    }
    let name = event_name(event)?;
    let mut properties = properties_of(properties)?;
    let distinct_id = distinct_id_of(distinct_id, &properties)?;
    let event_id = match uuid.as_ref().and_then(Field::as_str) {
        Some(id) => event_id(project_id, id),
        None => Uuid::now_v7(),
    };
    let timestamp = event_time(
        timestamp,
        offset,
        sent_at.or_else(|| {
            own_sent_at
                .as_ref()
                .and_then(Field::as_str)
                .and_then(parse_time)
        }),
        received_at,
        &mut properties,
    )?;
    let session_id = properties
        .get("$session_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Event {
        event_id,
        project_id,
        kind: kind_of(&name),
        event: name,
        distinct_id,
        user_id: None,
        session_id,
        timestamp,
        received_at,
        context: context_of(&properties, ip),
        properties,
    })
}

/// The event's name: a string of 1 to 200 characters.
fn event_name(event: Option<Field<'_>>) -> Result<String, String> {
    match event {
        Some(Field::Str(name)) if !name.trim().is_empty() && name.len() <= 200 => {
            Ok(name.into_owned())
        }
        Some(Field::Str(_)) => Err("event: must be 1 to 200 characters".to_owned()),
        Some(_) => Err("event: must be a string".to_owned()),
        None => Err("event: is required".to_owned()),
    }
}

/// The properties the envelope keeps: without the project token, at most [`MAX_PROPERTIES`].
fn properties_of(properties: Option<Properties>) -> Result<Map<String, Value>, String> {
    let mut properties = match properties {
        Some(Properties::Object(properties)) => properties,
        None | Some(Properties::Null) => Map::new(),
        Some(Properties::Other) => return Err("properties: must be an object".to_owned()),
    };
    for secret in ["token", "$token"] {
        properties.remove(secret);
    }
    if properties.len() > MAX_PROPERTIES {
        return Err(format!("properties: at most {MAX_PROPERTIES} keys"));
    }
    Ok(properties)
}

/// The event's `distinct_id`, else the one in its properties.
fn distinct_id_of(
    distinct_id: Option<Field<'_>>,
    properties: &Map<String, Value>,
) -> Result<String, String> {
    let distinct_id = match distinct_id {
        Some(Field::Str(id)) if !id.is_empty() => Some(id.into_owned()),
        Some(Field::Number(id)) => Some(id.to_string()),
        _ => None,
    }
    .or_else(|| {
        [
            properties.get("distinct_id"),
            properties.get("$distinct_id"),
        ]
        .into_iter()
        .flatten()
        .find_map(|value| match value {
            Value::String(id) if !id.is_empty() => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
    })
    .ok_or("distinct_id: is required")?;
    Ok(distinct_id)
}

/// The kind of event PostHog's reserved names stand for.
fn kind_of(name: &str) -> EventKind {
    match name {
        "$pageview" => EventKind::Page,
        "$screen" => EventKind::Screen,
        "$identify" => EventKind::Identify,
        "$create_alias" => EventKind::Alias,
        "$groupidentify" => EventKind::Group,
        _ => EventKind::Track,
    }
}

/// Page, referrer and device as posthog-js reports them in the properties.
fn context_of(properties: &Map<String, Value>, ip: &str) -> EventContext {
    let text = |key: &str| {
        properties
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let url = text("$current_url");
    let (host, path) = split_url(&url);
    let referrer = text("$referrer");
    let referrer_domain = match text("$referring_domain") {
        domain if !domain.is_empty() && domain != "$direct" => domain,
        _ => split_url(&referrer).0,
    };
    EventContext {
        host: if host.is_empty() { text("$host") } else { host },
        path: if path.is_empty() {
            text("$pathname")
        } else {
            path
        },
        url,
        referrer,
        referrer_domain,
        browser: text("$browser"),
        os: text("$os"),
        device_type: text("$device_type"),
        lib: text("$lib"),
        ip: ip.to_owned(),
        ..EventContext::default()
    }
}

/// When the event happened, on the server's clock: `timestamp` shifted by the client's skew
/// (`sent_at`), or `offset` milliseconds before receipt; far-future times become the receive time.
fn event_time(
    timestamp: Option<Field<'_>>,
    offset: Option<Field<'_>>,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
    properties: &mut Map<String, Value>,
) -> Result<OffsetDateTime, String> {
    let timestamp = match timestamp {
        Some(Field::Str(text)) => {
            Some(parse_time(&text).ok_or("timestamp: must be an RFC 3339 date-time")?)
        }
        None | Some(Field::Null) => None,
        Some(_) => return Err("timestamp: must be a string".to_owned()),
    };
    let offset = match offset {
        Some(Field::Number(offset)) => offset.as_i64(),
        _ => None,
    };
    let at = match (timestamp, sent_at, offset) {
        (Some(timestamp), Some(sent_at), _) => received_at + (timestamp - sent_at),
        (Some(timestamp), None, _) => timestamp,
        (None, _, Some(offset)) => received_at - time::Duration::milliseconds(offset),
        (None, _, None) => received_at,
    };
    Ok(not_in_future(at, received_at, properties))
}

/// The first of `fields` that is a string, when it is not empty.
fn string_field<'b>(fields: [&'b Option<Field<'_>>; 3]) -> Option<&'b str> {
    fields
        .into_iter()
        .find_map(|field| field.as_ref().and_then(Field::as_str))
        .filter(|value| !value.is_empty())
}

/// The first of `keys` whose value is a string, when it is not empty.
fn map_string_field<'b>(object: &'b Map<String, Value>, keys: &[&str]) -> Option<&'b str> {
    keys.iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::body::MAX_EVENTS;
    use crate::wire::capture::EventSeed;

    /// `event` as the one event of a body.
    fn raw(event: Value) -> RawEvent<'static> {
        EventSeed(&Budget::default())
            .deserialize(event)
            .expect("reads")
    }

    #[test]
    fn the_three_body_shapes_parse() {
        let single = parse(br#"{"event":"a","distinct_id":"u","api_key":"k"}"#).expect("single");
        assert_eq!(
            (single.events.len(), single.token.as_deref()),
            (1, Some("k"))
        );
        let array = parse(br#"[{"event":"a"},{"event":"b"}]"#).expect("array");
        assert_eq!(array.events.len(), 2);
        let batch =
            parse(br#"{"api_key":"k","batch":[{"event":"a"}],"sent_at":"2026-01-01T00:00:00Z"}"#)
                .expect("batch");
        assert_eq!((batch.events.len(), batch.sent_at.is_some()), (1, true));
        assert!(parse(b"{nope").is_err());
    }

    #[test]
    fn events_are_counted_while_read_and_the_first_past_the_limit_refuses_the_body() {
        let events = |n: usize| format!("[{}{{}}]", "{},".repeat(n - 1));
        assert_eq!(
            parse(events(MAX_EVENTS).as_bytes())
                .expect("reads")
                .events
                .len(),
            MAX_EVENTS
        );
        // 20 MiB of `{},`: millions of events, refused at the 1001st.
        let flood = events(20 * 1024 * 1024 / 3);
        assert_eq!(
            parse(flood.as_bytes()).err(),
            Some(BodyError::TooManyEvents)
        );
        let wrapped = format!(r#"{{"api_key":"k","batch":{flood}}}"#);
        assert_eq!(
            parse(wrapped.as_bytes()).err(),
            Some(BodyError::TooManyEvents)
        );
    }

    #[test]
    fn properties_over_an_events_share_refuse_that_event_and_over_the_requests_the_body() {
        let zeros = |n: usize| format!("[{}0]", "0,".repeat(n - 1));
        let big = format!(
            r#"[{{"event":"big","distinct_id":"u","properties":{{"a":{}}}}},{{"event":"ok","distinct_id":"u"}}]"#,
            zeros(50_000)
        );
        let body = parse(big.as_bytes()).expect("reads");
        let mut events = body.events.into_iter();
        let now = OffsetDateTime::now_utc();
        let project = Uuid::now_v7();
        let first = events.next().expect("first");
        assert_eq!(
            normalise(first, project, None, now, "").expect_err("too large"),
            format!("an event must be at most {MAX_EVENT_BYTES} bytes")
        );
        let second = events.next().expect("second");
        assert!(normalise(second, project, None, now, "").is_ok());
        // The same for the one event of a body that is an event.
        let single = format!(
            r#"{{"event":"big","distinct_id":"u","api_key":"k","properties":{{"a":{}}}}}"#,
            zeros(50_000)
        );
        let body = parse(single.as_bytes()).expect("reads");
        assert_eq!(body.token.as_deref(), Some("k"));
        let event = body.events.into_iter().next().expect("the event");
        assert!(normalise(event, project, None, now, "").is_err());
        // Twenty events of 1.9 MB once read each: more than a request may build.
        let one = format!(r#"{{"event":"e","properties":{{"a":{}}}}}"#, zeros(40_000));
        let many = format!("[{}{one}]", format!("{one},").repeat(19));
        assert_eq!(parse(many.as_bytes()).err(), Some(BodyError::TooMuchData));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(matches!(parse(deep.as_bytes()), Err(BodyError::Invalid(_))));
    }

    #[test]
    fn clock_skew_is_corrected_and_the_far_future_clamped() {
        let project = Uuid::now_v7();
        let now = OffsetDateTime::now_utc();
        let skewed = json!({
            "event": "x", "distinct_id": "u",
            "timestamp": "2030-01-01T00:00:10Z"
        });
        let sent = parse_time("2030-01-01T00:00:20Z");
        let event = normalise(raw(skewed), project, sent, now, "").expect("normalises");
        assert_eq!(event.timestamp, now - time::Duration::seconds(10));

        let future =
            json!({ "event": "x", "distinct_id": "u", "timestamp": "2099-01-01T00:00:00Z" });
        let event = normalise(raw(future), project, None, now, "").expect("normalises");
        assert_eq!(event.timestamp, now);
        assert_eq!(event.properties["$ingest_future_timestamp"], true);
    }

    #[test]
    fn missing_or_mistyped_fields_are_named() {
        let project = Uuid::now_v7();
        let now = OffsetDateTime::now_utc();
        let error =
            |event: Value| normalise(raw(event), project, None, now, "").expect_err("refused");
        assert!(error(json!({ "distinct_id": "u" })).starts_with("event:"));
        assert!(error(json!({ "event": 5, "distinct_id": "u" })).starts_with("event:"));
        assert!(error(json!({ "event": "x" })).starts_with("distinct_id:"));
        assert!(
            error(json!({ "event": "x", "distinct_id": "u", "properties": [] }))
                .starts_with("properties:")
        );
        assert!(
            error(json!({ "event": "x", "distinct_id": "u", "timestamp": 5 }))
                .starts_with("timestamp:")
        );
    }
}
