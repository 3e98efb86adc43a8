//! Reading a request's JSON within a [`Budget`]: the events of a request are counted, and what
//! their properties take once read is estimated, while parsing, so no body makes ingest build
//! more than the limits allow (an array of millions of `{}` stops at the first event past
//! [`MAX_EVENTS`]).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::body::{BodyError, MAX_EVENT_BYTES, MAX_EVENTS, MAX_READ_BYTES};

/// What one event may take once read. Reading costs at most 48 times an event's JSON text (a
/// `0,` in an array is one 32-byte value), so an event over this would also be over
/// [`MAX_EVENT_BYTES`] as JSON: it is refused alone, as it was, but without being built.
pub(crate) const MAX_EVENT_READ_BYTES: usize = 64 * MAX_EVENT_BYTES;

/// What reading a request's JSON may still build, counted while it is read. A value is
/// charged before it is built: [`NODE_BYTES`] for every value, map key and string, plus the
/// length of every string. The whole request has [`MAX_READ_BYTES`], each event
/// [`MAX_EVENT_READ_BYTES`].
pub(crate) struct Budget {
    request_left: Cell<usize>,
    event_left: Cell<usize>,
    /// The current event went over its share: the rest of it is read and dropped.
    event_over: Cell<bool>,
    /// Why reading stopped, when the budget stopped it.
    refusal: Cell<Option<BodyError>>,
}

/// What one value is charged besides its text: a `serde_json::Value` (32 bytes) and the slack
/// of the vector or tree that holds it.
const NODE_BYTES: usize = 48;

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("request_left", &self.request_left.get())
            .field("event_left", &self.event_left.get())
            .field("event_over", &self.event_over.get())
            .finish_non_exhaustive()
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            request_left: Cell::new(MAX_READ_BYTES),
            event_left: Cell::new(MAX_EVENT_READ_BYTES),
            event_over: Cell::new(false),
            refusal: Cell::new(None),
        }
    }
}

impl Budget {
    /// Starts the share of the next event.
    pub(crate) fn start_event(&self) {
        self.event_left.set(MAX_EVENT_READ_BYTES);
        self.event_over.set(false);
    }

    /// Whether the current event went over its share (and was dropped while read).
    pub(crate) fn event_over(&self) -> bool {
        self.event_over.get()
    }

    /// Stops reading: `refusal` is the body's error, `E` the parser's.
    pub(crate) fn refuse<E: de::Error>(&self, refusal: BodyError) -> E {
        let message = refusal.to_string();
        self.refusal.set(Some(refusal));
        E::custom(message)
    }

    /// The body's error for a parser error: the budget's refusal when it stopped reading,
    /// else invalid JSON.
    pub(crate) fn error(&self, err: &serde_json::Error) -> BodyError {
        self.refusal
            .take()
            .unwrap_or_else(|| BodyError::Invalid(format!("invalid JSON body: {err}")))
    }

    /// Charges `bytes`: `Ok(true)` to build the value, `Ok(false)` when the event is over its
    /// share (the value is read and dropped), an error when the request is over its own.
    fn spend<E: de::Error>(&self, bytes: usize) -> Result<bool, E> {
        if self.event_over.get() {
            return Ok(false);
        }
        let Some(event_left) = self.event_left.get().checked_sub(bytes) else {
            self.event_over.set(true);
            return Ok(false);
        };
        let Some(request_left) = self.request_left.get().checked_sub(bytes) else {
            return Err(self.refuse(BodyError::TooMuchData));
        };
        self.event_left.set(event_left);
        self.request_left.set(request_left);
        Ok(true)
    }
}

/// Reads one JSON value within a [`Budget`]; `Value::Null` stands for a value dropped because
/// its event went over its share. Nesting is bounded by serde_json's recursion limit (128).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounded<'b>(pub(crate) &'b Budget);

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        self.build(NODE_BYTES, || Value::Bool(value))
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        self.build(NODE_BYTES, || value.into())
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        self.build(NODE_BYTES, || value.into())
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        // As `serde_json::Value` reads it: a number it cannot hold is null.
        self.build(NODE_BYTES, || {
            Number::from_f64(value).map_or(Value::Null, Value::Number)
        })
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        self.build(NODE_BYTES + value.len(), || Value::String(value.to_owned()))
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        self.build(NODE_BYTES + value.len(), || Value::String(value))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.spend(NODE_BYTES)?;
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        let keep = self.0.spend(NODE_BYTES)?;
        while let Some(item) = seq.next_element_seed(self)? {
            if keep && !self.0.event_over() {
                items.push(item);
            }
        }
        Ok(if keep && !self.0.event_over() {
            Value::Array(items)
        } else {
            Value::Null
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        let keep = self.0.spend(NODE_BYTES)?;
        let object = self.object(map)?;
        Ok(if keep && !self.0.event_over() {
            Value::Object(object)
        } else {
            Value::Null
        })
    }
}

impl Bounded<'_> {
    /// The value `build` makes when `cost` is within the budget, else `Value::Null`.
    fn build<E: de::Error>(self, cost: usize, build: impl FnOnce() -> Value) -> Result<Value, E> {
        Ok(if self.0.spend(cost)? {
            build()
        } else {
            Value::Null
        })
    }

    /// The entries of a JSON object, each key charged like a string.
    pub(crate) fn object<'de, A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<Map<String, Value>, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            let value = map.next_value_seed(self)?;
            if let Some(key) = key.filter(|_| !self.0.event_over()) {
                object.insert(key, value);
            }
        }
        Ok(object)
    }
}

/// A map key charged to a [`Budget`]; `None` when its event is over its share.
struct Key<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Key<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .spend(NODE_BYTES + key.len())?
            .then(|| key.to_owned()))
    }
}

/// Reads the elements of a JSON array with `read`, at most [`MAX_EVENTS`] of them: the first
/// element past the limit is skipped without being built, and stops reading.
pub(crate) fn bounded_events<'de, A, T>(
    mut seq: A,
    budget: &Budget,
    mut read: impl FnMut(&mut A) -> Result<Option<T>, A::Error>,
) -> Result<Vec<T>, A::Error>
where
    A: SeqAccess<'de>,
{
    let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_EVENTS));
    loop {
        if events.len() == MAX_EVENTS {
            return match seq.next_element::<de::IgnoredAny>()? {
                Some(_) => Err(budget.refuse(BodyError::TooManyEvents)),
                None => Ok(events),
            };
        }
        budget.start_event();
        match read(&mut seq)? {
            Some(event) => events.push(event),
            None => return Ok(events),
        }
    }
}

/// The visitor methods of the JSON values that are neither arrays nor objects, all giving
/// `$value`.
macro_rules! scalars_are {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

pub(crate) use scalars_are;

/// A JSON value read to its end and dropped: checked as `serde_json::Value` checks it (numbers
/// in range, nesting within the limit), without building it.
pub(crate) struct Skip;

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

pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

pub(crate) fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json` read as one value within a fresh budget.
    fn read(json: &str) -> Result<Value, BodyError> {
        let budget = Budget::default();
        let mut deserializer = serde_json::Deserializer::from_str(json);
        Bounded(&budget)
            .deserialize(&mut deserializer)
            .map_err(|err| budget.error(&err))
    }

    #[test]
    fn values_within_the_budget_read_as_serde_json_reads_them() {
        let json = r#"{"a":[1,-2,3.5,"x\u00e9",null,true,{"b":{}}],"c":18446744073709551615}"#;
        assert_eq!(
            read(json).expect("reads"),
            serde_json::from_str::<Value>(json).expect("json")
        );
        assert!(matches!(read("{nope"), Err(BodyError::Invalid(_))));
    }

    #[test]
    fn a_value_over_the_event_share_is_dropped_and_the_request_budget_refuses() {
        // 50 000 zeros: about 100 KB of JSON, 2.4 MB once read, over one event's share.
        let zeros = format!("[{}0]", "0,".repeat(50_000));
        let budget = Budget::default();
        let mut deserializer = serde_json::Deserializer::from_str(&zeros);
        let value = Bounded(&budget)
            .deserialize(&mut deserializer)
            .expect("reads");
        assert!(value.is_null() && budget.event_over(), "dropped");

        // Many events each within their share, together over the request's.
        let budget = Budget::default();
        let mut spent = Ok(true);
        for _ in 0..=MAX_READ_BYTES / (MAX_EVENT_READ_BYTES / 2) {
            budget.start_event();
            spent = budget.spend::<serde_json::Error>(MAX_EVENT_READ_BYTES / 2);
            if spent.is_err() {
                break;
            }
        }
        assert!(spent.is_err());
        assert_eq!(budget.refusal.take(), Some(BodyError::TooMuchData));
    }
}
