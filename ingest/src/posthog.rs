//! The PostHog capture wire format: `/e/`, `/i/v0/e/`, `/capture/`, `/batch/`. A body is one
//! event, an array of events, or `{api_key|token, batch, sent_at}`; the project token is in
//! `api_key`, `token`, `$token` or `properties.token`, on the body or on each event.
//!
//! A body is read straight into the few fields an event is built from, strings borrowed from
//! the body where they hold no escapes; only `properties`, which the envelope keeps, becomes a
//! JSON map. Other fields are checked as JSON and dropped. A field of the wrong type is the
//! event's error, not the body's, as it was when events were `serde_json::Value`s.
//!
//! Reading is bounded while it happens ([`crate::body::Budget`]): at most [`MAX_EVENTS`]
//! events are read (the next one is skipped, not built, and refuses the body), and
//! `properties` are charged to the request's and the event's share as they are built.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use contract::event::{Event, EventContext, EventKind};

pub use crate::body::MAX_EVENTS;
use crate::body::{BodyError, Bounded, Budget, bounded_events, scalars_are};

/// Largest single event, as JSON.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Most properties on one event.
pub const MAX_PROPERTIES: usize = 1000;
/// Events more than this far in the future get the receive time instead.
const MAX_FUTURE: time::Duration = time::Duration::hours(23);

/// A parsed request body; its strings borrow from the body's bytes.
#[derive(Debug)]
pub struct Body<'a> {
    /// Token given once for the whole body.
    pub token: Option<String>,
    pub sent_at: Option<OffsetDateTime>,
    pub events: Vec<RawEvent<'a>>,
}

/// One element of a body's events, as sent.
#[derive(Debug)]
pub enum RawEvent<'a> {
    Object(Box<Fields<'a>>),
    /// Anything but a JSON object.
    NotObject,
}

/// The fields of an event object that the intake reads; `None` when absent. A key given twice
/// counts with its last value.
#[derive(Debug, Default)]
pub struct Fields<'a> {
    pub event: Option<Field<'a>>,
    pub distinct_id: Option<Field<'a>>,
    pub uuid: Option<Field<'a>>,
    pub timestamp: Option<Field<'a>>,
    pub sent_at: Option<Field<'a>>,
    pub offset: Option<Field<'a>>,
    pub api_key: Option<Field<'a>>,
    pub token: Option<Field<'a>>,
    pub dollar_token: Option<Field<'a>>,
    /// The native API's target project.
    pub project_id: Option<Field<'a>>,
    pub properties: Option<Properties>,
    /// The properties went over an event's share of the read budget and were dropped.
    pub too_large: bool,
}

/// A JSON value where a string or a number is expected.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Null,
    Str(Cow<'a, str>),
    Number(Number),
    /// A boolean, an array or an object.
    Other,
}

impl Field<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// The `properties` of an event.
#[derive(Debug)]
pub enum Properties {
    Object(Map<String, Value>),
    Null,
    /// Anything but an object or null.
    Other,
}

/// Splits a decoded body into its events, within the read budget.
pub fn parse(json: &[u8]) -> Result<Body<'_>, BodyError> {
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
    Ok(Body {
        token,
        sent_at,
        events,
    })
}

/// The project token of one event, else the body's.
pub fn token<'b>(event: &'b RawEvent<'_>, body_token: Option<&'b str>) -> Option<&'b str> {
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
pub fn normalise(
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
    let name = match event {
        Some(Field::Str(name)) if !name.trim().is_empty() && name.len() <= 200 => name.into_owned(),
        Some(Field::Str(_)) => return Err("event: must be 1 to 200 characters".to_owned()),
        Some(_) => return Err("event: must be a string".to_owned()),
        None => return Err("event: is required".to_owned()),
    };
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
    if at - received_at > MAX_FUTURE {
        properties.insert("$ingest_future_timestamp".to_owned(), Value::Bool(true));
        return Ok(received_at);
    }
    Ok(at)
}

pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
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

/// A body as read: an array of events, an object (with its `batch` when it has one), or
/// anything else.
enum Top<'a> {
    Array(Vec<RawEvent<'a>>),
    Object(Box<Fields<'a>>, Option<Batch<'a>>),
    Other,
}

/// A body's `batch`.
enum Batch<'a> {
    Array(Vec<RawEvent<'a>>),
    Other,
}

/// Reads a body as a [`Top`] within the budget.
struct TopSeed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Top<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        events(seq, self.0).map(Top::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let (fields, batch) = fields(map, true, self.0)?;
        Ok(Top::Object(fields, batch))
    }
    scalars_are!(Top::Other);
}

/// Reads a body's `batch` within the budget.
struct BatchSeed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for BatchSeed<'_> {
    type Value = Batch<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Batch<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_> {
    type Value = Batch<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        events(seq, self.0).map(Batch::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Batch::Other)
    }
    scalars_are!(Batch::Other);
}

/// Reads one element of a body's events within the budget.
struct EventSeed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = RawEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawEvent<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = RawEvent<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| RawEvent::NotObject)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let (fields, _) = fields(map, false, self.0)?;
        Ok(RawEvent::Object(fields))
    }
    scalars_are!(RawEvent::NotObject);
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(Field::Number(value.into()))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(Field::Number(value.into()))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                // As `serde_json::Value` reads it.
                Ok(Number::from_f64(value).map_or(Field::Null, Field::Number))
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(text)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Field::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Field::Other)
            }
        }
        deserializer.deserialize_any(FieldVisitor)
    }
}

/// Reads an event's `properties` within the budget.
struct PropertiesSeed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for PropertiesSeed<'_> {
    type Value = Properties;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Properties, D::Error> {
        struct PropertiesVisitor<'b>(&'b Budget);
        impl<'de> Visitor<'de> for PropertiesVisitor<'_> {
            type Value = Properties;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Properties::Null)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Properties::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Properties::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Properties::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Properties::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Properties::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Properties::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Bounded(self.0).object(map).map(Properties::Object)
            }
        }
        deserializer.deserialize_any(PropertiesVisitor(self.0))
    }
}

/// The elements of an array of events: at most [`MAX_EVENTS`], read within the budget.
fn events<'de, A: SeqAccess<'de>>(seq: A, budget: &Budget) -> Result<Vec<RawEvent<'de>>, A::Error> {
    bounded_events(seq, budget, |seq| seq.next_element_seed(EventSeed(budget)))
}

/// The fields of an event object; with `top`, also the body's `batch`.
fn fields<'de, A: MapAccess<'de>>(
    mut map: A,
    top: bool,
    budget: &Budget,
) -> Result<(Box<Fields<'de>>, Option<Batch<'de>>), A::Error> {
    let mut fields = Box::<Fields<'de>>::default();
    let mut batch = None;
    while let Some(key) = map.next_key::<Name>()? {
        let field = match key {
            Name::Event => &mut fields.event,
            Name::DistinctId => &mut fields.distinct_id,
            Name::Uuid => &mut fields.uuid,
            Name::Timestamp => &mut fields.timestamp,
            Name::SentAt => &mut fields.sent_at,
            Name::Offset => &mut fields.offset,
            Name::ApiKey => &mut fields.api_key,
            Name::Token => &mut fields.token,
            Name::DollarToken => &mut fields.dollar_token,
            Name::ProjectId => &mut fields.project_id,
            Name::Properties => {
                // The event's share starts here: the properties are all of an event that is
                // built, and the top object of a body may be an event too.
                budget.start_event();
                let properties = map.next_value_seed(PropertiesSeed(budget))?;
                fields.too_large = budget.event_over();
                fields.properties = (!fields.too_large).then_some(properties);
                continue;
            }
            Name::Batch if top => {
                batch = Some(map.next_value_seed(BatchSeed(budget))?);
                continue;
            }
            Name::Batch | Name::Other => {
                map.next_value::<Skip>()?;
                continue;
            }
        };
        *field = Some(map.next_value()?);
    }
    Ok((fields, batch))
}

/// The keys [`fields`] reads, by name.
enum Name {
    Event,
    DistinctId,
    Uuid,
    Timestamp,
    SentAt,
    Offset,
    ApiKey,
    Token,
    DollarToken,
    ProjectId,
    Properties,
    Batch,
    Other,
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Name, E> {
                Ok(match key {
                    "event" => Name::Event,
                    "distinct_id" => Name::DistinctId,
                    "uuid" => Name::Uuid,
                    "timestamp" => Name::Timestamp,
                    "sent_at" => Name::SentAt,
                    "offset" => Name::Offset,
                    "api_key" => Name::ApiKey,
                    "token" => Name::Token,
                    "$token" => Name::DollarToken,
                    "project_id" => Name::ProjectId,
                    "properties" => Name::Properties,
                    "batch" => Name::Batch,
                    _ => Name::Other,
                })
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// A JSON value read to its end and dropped: checked as `serde_json::Value` checks it (numbers
/// in range, nesting within the limit), without building it.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                skip_seq(seq).map(|()| Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                skip_map(map).map(|()| Skip)
            }
            scalars_are!(Skip);
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

/// Host and path of a URL; empty when it does not parse.
pub fn split_url(text: &str) -> (String, String) {
    if text.is_empty() {
        return (String::new(), String::new());
    }
    if let Some((host, path)) = plain_url(text) {
        return (host.to_owned(), path.to_owned());
    }
    match url::Url::parse(text) {
        Ok(url) => (
            url.host_str().unwrap_or_default().to_owned(),
            url.path().to_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    }
}

/// Host and path of an `http(s)://host/path?query#fragment` URL that the URL parser would give
/// back as they are written (most page URLs), without parsing it: a lowercase ASCII host name
/// without port or user, whose last label starts with a letter (so it is no IPv4 address), not
/// punycode; a path of characters that are neither percent-encoded nor resolved (no `.` or `..`
/// segment). `None` for anything else, which the URL parser reads.
fn plain_url(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))?;
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    if !text.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return None;
    }
    let (host, path) = rest[..end].split_at(rest[..end].find('/').unwrap_or(end));
    let plain_host = !host.contains("xn--")
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && host
            .rsplit('.')
            .next()
            .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_lowercase()));
    let plain_path = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b))
        && !path.split('/').any(|segment| {
            segment == "."
                || segment == ".."
                || segment
                    .as_bytes()
                    .windows(3)
                    .any(|w| w[0] == b'%' && w[1] == b'2' && w[2] | 0x20 == b'e')
        });
    if !plain_host || !plain_path {
        return None;
    }
    Some((host, if path.is_empty() { "/" } else { path }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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

    #[test]
    fn plain_urls_split_as_the_url_parser_splits_them() {
        let parsed = |text: &str| match url::Url::parse(text) {
            Ok(url) => (
                url.host_str().unwrap_or_default().to_owned(),
                url.path().to_owned(),
            ),
            Err(_) => (String::new(), String::new()),
        };
        let schemes = ["https://", "http://", "HTTP://", "https:/", "ftp://", ""];
        let hosts = [
            "shop.example",
            "Shop.example",
            "a.b.c",
            "localhost",
            "127.0.0.1",
            "0x7f.1",
            "1.2.3",
            "a.b1",
            "a.1b",
            "a.0x1",
            "shop.example.",
            "a..b",
            "xn--bcher-kva.example",
            "bücher.example",
            "user:pw@shop.example",
            "shop.example:8443",
            "shop.example:99999",
            "-x-.example",
            "shop_example.com",
            "exa%41mple.com",
            "[::1]",
            "",
        ];
        let paths = [
            "",
            "/",
            "/products/42",
            "/a/./b",
            "/a/../b",
            "/a/..",
            "/a/.",
            "/a%2e/b",
            "/%2E%2E/b",
            "/a b",
            "/a\\b",
            "/a|b^c[d]",
            "/a\"b<c>",
            "/a`{b}",
            "/%zz/%41",
            "/p;x=1/q",
            "/~user/!$&'()*+,;=:@",
            "/é",
            "/tab\there",
            "//double",
        ];
        let tails = ["", "?q=1", "#f", "?q=a b#f", "?x=/../"];
        for scheme in schemes {
            for host in hosts {
                for path in paths {
                    for tail in tails {
                        let text = format!("{scheme}{host}{path}{tail}");
                        assert_eq!(split_url(&text), parsed(&text), "{text}");
                    }
                }
            }
        }
        assert!(plain_url("https://shop.example/products/42?x=1").is_some());
    }
}
