//! How a PostHog capture body is read: straight into the few fields an event is built from,
//! strings borrowed from the body where they hold no escapes; only `properties`, which the
//! envelope keeps, becomes a JSON map. Other fields are checked as JSON and dropped. A field
//! of the wrong type is the event's error, not the body's, as it was when events were
//! `serde_json::Value`s.
//!
//! Reading is bounded while it happens ([`Budget`]): at most [`crate::body::MAX_EVENTS`]
//! events are read (the next one is skipped, not built, and refuses the body), and
//! `properties` are charged to the request's and the event's share as they are built.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::json::{Bounded, Budget, Skip, bounded_events, scalars_are, skip_map, skip_seq};

/// One element of a body's events, as sent.
#[derive(Debug)]
pub(crate) enum RawEvent<'a> {
    Object(Box<Fields<'a>>),
    /// Anything but a JSON object.
    NotObject,
}

/// The fields of an event object that the intake reads; `None` when absent. A key given twice
/// counts with its last value.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a> {
    pub(crate) event: Option<Field<'a>>,
    pub(crate) distinct_id: Option<Field<'a>>,
    pub(crate) uuid: Option<Field<'a>>,
    pub(crate) timestamp: Option<Field<'a>>,
    pub(crate) sent_at: Option<Field<'a>>,
    pub(crate) offset: Option<Field<'a>>,
    pub(crate) api_key: Option<Field<'a>>,
    pub(crate) token: Option<Field<'a>>,
    pub(crate) dollar_token: Option<Field<'a>>,
    /// The native API's target project.
    pub(crate) project_id: Option<Field<'a>>,
    pub(crate) properties: Option<Properties>,
    /// The properties went over an event's share of the read budget and were dropped.
    pub(crate) too_large: bool,
}

/// A JSON value where a string or a number is expected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    Null,
    Str(Cow<'a, str>),
    Number(Number),
    /// A boolean, an array or an object.
    Other,
}

impl Field<'_> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// The `properties` of an event.
#[derive(Debug)]
pub(crate) enum Properties {
    Object(Map<String, Value>),
    Null,
    /// Anything but an object or null.
    Other,
}

/// A body as read: an array of events, an object (with its `batch` when it has one), or
/// anything else.
pub(crate) enum Top<'a> {
    Array(Vec<RawEvent<'a>>),
    Object(Box<Fields<'a>>, Option<Batch<'a>>),
    Other,
}

/// A body's `batch`.
pub(crate) enum Batch<'a> {
    Array(Vec<RawEvent<'a>>),
    Other,
}

/// Reads a body as a [`Top`] within the budget.
pub(crate) struct TopSeed<'b>(pub(crate) &'b Budget);

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
pub(crate) struct EventSeed<'b>(pub(crate) &'b Budget);

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
