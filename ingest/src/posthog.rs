//! The PostHog capture wire format: `/e/`, `/i/v0/e/`, `/capture/`, `/batch/`. A body is one
//! event, an array of events, or `{api_key|token, batch, sent_at}`; the project token is in
//! `api_key`, `token`, `$token` or `properties.token`, on the body or on each event.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use contract::event::{Event, EventContext, EventKind};

/// Most events in one request.
pub const MAX_EVENTS: usize = 1000;
/// Largest single event, as JSON.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Most properties on one event.
pub const MAX_PROPERTIES: usize = 1000;
/// Events more than this far in the future get the receive time instead.
const MAX_FUTURE: time::Duration = time::Duration::hours(23);

/// A parsed request body.
#[derive(Debug)]
pub struct Body {
    /// Token given once for the whole body.
    pub token: Option<String>,
    pub sent_at: Option<OffsetDateTime>,
    pub events: Vec<Value>,
}

/// Splits a decoded body into its events.
pub fn parse(json: &[u8]) -> Result<Body, String> {
    let value: Value =
        serde_json::from_slice(json).map_err(|err| format!("invalid JSON body: {err}"))?;
    let (token, sent_at, events) = match value {
        Value::Array(events) => (None, None, events),
        Value::Object(mut object) => {
            let token = string_field(&object, &["api_key", "token", "$token"]);
            let sent_at = object
                .get("sent_at")
                .and_then(Value::as_str)
                .and_then(parse_time);
            match object.remove("batch") {
                Some(Value::Array(events)) => (token, sent_at, events),
                Some(_) => return Err("batch must be an array".to_owned()),
                None => (token, sent_at, vec![Value::Object(object)]),
            }
        }
        _ => {
            return Err(
                "the body must be an event, an array of events or {batch: [...]}".to_owned(),
            );
        }
    };
    if events.len() > MAX_EVENTS {
        return Err(format!("at most {MAX_EVENTS} events per request"));
    }
    Ok(Body {
        token,
        sent_at,
        events,
    })
}

/// The project token of one event, else the body's.
pub fn token(event: &Value, body_token: Option<&str>) -> Option<String> {
    let object = event.as_object()?;
    string_field(object, &["api_key", "token", "$token"])
        .or_else(|| {
            object
                .get("properties")
                .and_then(Value::as_object)
                .and_then(|p| string_field(p, &["token", "$token"]))
        })
        .or_else(|| body_token.map(str::to_owned))
}

/// Normalises one PostHog event of `project_id`; the error names the field.
pub fn normalise(
    event: &Value,
    project_id: Uuid,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
    ip: &str,
) -> Result<Event, String> {
    let object = event.as_object().ok_or("an event must be a JSON object")?;
    let name = match object.get("event") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.len() <= 200 => name.clone(),
        Some(Value::String(_)) => return Err("event: must be 1 to 200 characters".to_owned()),
        Some(_) => return Err("event: must be a string".to_owned()),
        None => return Err("event: is required".to_owned()),
    };
    let mut properties = match object.get("properties") {
        Some(Value::Object(properties)) => properties.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("properties: must be an object".to_owned()),
    };
    for secret in ["token", "$token"] {
        properties.remove(secret);
    }
    if properties.len() > MAX_PROPERTIES {
        return Err(format!("properties: at most {MAX_PROPERTIES} keys"));
    }
    let distinct_id = [
        object.get("distinct_id"),
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
    .ok_or("distinct_id: is required")?;
    let event_id = match object.get("uuid").and_then(Value::as_str) {
        Some(id) => event_id(project_id, id),
        None => Uuid::now_v7(),
    };
    let timestamp = event_time(
        object,
        sent_at.or_else(|| {
            object
                .get("sent_at")
                .and_then(Value::as_str)
                .and_then(parse_time)
        }),
        received_at,
        &mut properties,
    )?;
    let kind = match name.as_str() {
        "$pageview" => EventKind::Page,
        "$screen" => EventKind::Screen,
        "$identify" => EventKind::Identify,
        "$create_alias" => EventKind::Alias,
        "$groupidentify" => EventKind::Group,
        _ => EventKind::Track,
    };
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
    let session_id = properties
        .get("$session_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let context = EventContext {
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
        is_bot: false,
    };
    Ok(Event {
        event_id,
        project_id,
        kind,
        event: name,
        distinct_id,
        user_id: None,
        session_id,
        timestamp,
        received_at,
        properties,
        context,
    })
}

/// The SDK's id when it is a UUID; otherwise a UUIDv5 of project and id, so a retry of the same
/// event maps to the same id.
pub fn event_id(project_id: Uuid, id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_else(|_| Uuid::new_v5(&project_id, id.as_bytes()))
}

/// When the event happened, on the server's clock: `timestamp` shifted by the client's skew
/// (`sent_at`), or `offset` milliseconds before receipt; far-future times become the receive time.
fn event_time(
    object: &Map<String, Value>,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
    properties: &mut Map<String, Value>,
) -> Result<OffsetDateTime, String> {
    let timestamp = match object.get("timestamp") {
        Some(Value::String(text)) => {
            Some(parse_time(text).ok_or("timestamp: must be an RFC 3339 date-time")?)
        }
        None | Some(Value::Null) => None,
        Some(_) => return Err("timestamp: must be a string".to_owned()),
    };
    let at = match (
        timestamp,
        sent_at,
        object.get("offset").and_then(Value::as_i64),
    ) {
        (Some(timestamp), Some(sent_at), _) => received_at + (timestamp - sent_at),
        (Some(timestamp), None, _) => timestamp,
        (None, _, Some(offset)) => received_at - time::Duration::milliseconds(offset),
        (None, _, None) => received_at,
    };
    if at - received_at > MAX_FUTURE {
        properties.insert("$ingest_future_timestamp".to_owned(), Value::Bool(true));
        return Ok(received_at);
    }
    Ok(at)
}

pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn string_field(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Host and path of a URL; empty when it does not parse.
pub fn split_url(text: &str) -> (String, String) {
    match url::Url::parse(text) {
        Ok(url) => (
            url.host_str().unwrap_or_default().to_owned(),
            url.path().to_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
    fn a_non_uuid_id_maps_to_the_same_uuid_every_time() {
        let project = Uuid::now_v7();
        assert_eq!(
            event_id(project, "node-next-1-abc"),
            event_id(project, "node-next-1-abc")
        );
        assert_ne!(
            event_id(project, "node-next-1-abc"),
            event_id(Uuid::now_v7(), "node-next-1-abc")
        );
        let real = Uuid::now_v7();
        assert_eq!(event_id(project, &real.to_string()), real);
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
        let event = normalise(&skewed, project, sent, now, "").expect("normalises");
        assert_eq!(event.timestamp, now - time::Duration::seconds(10));

        let future =
            json!({ "event": "x", "distinct_id": "u", "timestamp": "2099-01-01T00:00:00Z" });
        let event = normalise(&future, project, None, now, "").expect("normalises");
        assert_eq!(event.timestamp, now);
        assert_eq!(event.properties["$ingest_future_timestamp"], true);
    }

    #[test]
    fn missing_or_mistyped_fields_are_named() {
        let project = Uuid::now_v7();
        let now = OffsetDateTime::now_utc();
        let error = |event: Value| normalise(&event, project, None, now, "").expect_err("refused");
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
