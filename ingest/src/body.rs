//! Reading SDK request bodies within bounds. Gzip is recognised by its magic bytes whatever the
//! headers say, `data=<base64>` form bodies are unwrapped, and sizes are enforced while
//! decompressing, so a gzip bomb costs at most the limit in memory. The JSON is then read
//! within a [`Budget`]: the events of a request are counted, and what their properties take
//! once read is estimated, while parsing, so no body makes ingest build more than the limits
//! allow (an array of millions of `{}` stops at the first event past [`MAX_EVENTS`]).

use std::cell::Cell;
use std::fmt;
use std::io::Read as _;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Largest body accepted on the wire; edge holds bodies to the same limit.
pub const MAX_RAW_BYTES: usize = contract::event::MAX_REQUEST_BYTES;
/// Largest body after decompression.
pub const MAX_DECODED_BYTES: usize = contract::event::MAX_DECODED_REQUEST_BYTES;
/// Most events in one request.
pub const MAX_EVENTS: usize = 1000;
/// What the events of one request may take once read, as [`Budget`] estimates it. Real SDK
/// batches take a few hundred KiB; this bounds what a hostile body can make ingest build to
/// less than the decoded body itself.
pub const MAX_READ_BYTES: usize = 16 * 1024 * 1024;
/// What one event may take once read. Reading costs at most 48 times an event's JSON text (a
/// `0,` in an array is one 32-byte value), so an event over this would also be over
/// `posthog::MAX_EVENT_BYTES` as JSON: it is refused alone, as it was, but without being built.
pub const MAX_EVENT_READ_BYTES: usize = 64 * crate::posthog::MAX_EVENT_BYTES;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the body is larger than {0} bytes once decompressed")]
    TooLarge(usize),
    #[error("the body is not valid gzip")]
    BadGzip,
    #[error("the data field is not valid base64")]
    BadBase64,
    #[error("at most {MAX_EVENTS} events per request")]
    TooManyEvents,
    #[error("the events of one request may take at most {MAX_READ_BYTES} bytes once read")]
    TooMuchData,
    #[error("an event must be at most {} bytes", crate::posthog::MAX_EVENT_BYTES)]
    EventTooLarge,
    #[error("{0}")]
    Invalid(String),
}

/// The JSON text of an SDK body of at most [`MAX_DECODED_BYTES`]: ungzipped, and unwrapped
/// from `data=<base64>` forms.
pub fn decode(raw: &[u8]) -> Result<Vec<u8>, BodyError> {
    decode_within(raw, MAX_DECODED_BYTES)
}

/// [`decode`] with the limit `max_bytes` at every step: routes that take one small event
/// refuse a larger body before it is inflated.
pub fn decode_within(raw: &[u8], max_bytes: usize) -> Result<Vec<u8>, BodyError> {
    let body = gunzip_if_gzip(raw, max_bytes)?;
    let trimmed = body.trim_ascii_start();
    let is_form = trimmed.starts_with(b"data=")
        || (trimmed.contains(&b'=') && !trimmed.starts_with(b"{") && !trimmed.starts_with(b"["));
    if !is_form {
        return Ok(body);
    }
    let Some(data) = url::form_urlencoded::parse(trimmed)
        .find(|(key, _)| key == "data")
        .map(|(_, value)| value.into_owned())
    else {
        return Ok(body);
    };
    // Each copy is dropped as soon as the next one exists, so a form inside a gzip body costs
    // about twice the limit at most, not four times.
    drop(body);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(data.trim()))
        .map_err(|_| BodyError::BadBase64)?;
    drop(data);
    gunzip_if_gzip(&decoded, max_bytes)
}

fn gunzip_if_gzip(raw: &[u8], max_bytes: usize) -> Result<Vec<u8>, BodyError> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        if raw.len() > max_bytes {
            return Err(BodyError::TooLarge(max_bytes));
        }
        return Ok(raw.to_vec());
    }
    // The size the gzip trailer announces (for a single member) is the first capacity: an honest
    // body is inflated into one buffer of its size, without the copies and the doubled
    // capacity of a growing one.
    let announced = raw
        .last_chunk::<4>()
        .map_or(0, |size| u32::from_le_bytes(*size) as usize)
        .min(max_bytes);
    let mut out = Vec::with_capacity(announced + 1);
    inflate(raw, announced + 1, &mut out)?;
    if out.len() <= announced {
        return Ok(out);
    }
    // The last trailer understated the size (several members, each trailer counting its own; a
    // trailer that lies about its member is found out as invalid gzip): the size is counted
    // first, without keeping the text, then the body is inflated once more into a buffer of
    // exactly that size. A bomb costs its size once, not the 1.5 to 2 times of a
    // buffer that doubles as it grows.
    drop(out);
    let size = std::io::copy(
        &mut flate2::read::MultiGzDecoder::new(raw).take(max_bytes as u64 + 1),
        &mut std::io::sink(),
    )
    .map_err(|_| BodyError::BadGzip)?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(BodyError::TooLarge(max_bytes));
    }
    let mut out = Vec::with_capacity(size);
    inflate(raw, size, &mut out)?;
    Ok(out)
}

/// Inflates at most `limit` bytes of the gzip body `raw` into `out`.
fn inflate(raw: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), BodyError> {
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit as u64)
        .read_to_end(out)
        .map(|_| ())
        .map_err(|_| BodyError::BadGzip)
}

/// What reading a request's JSON may still build, counted while it is read. A value is
/// charged before it is built: [`NODE_BYTES`] for every value, map key and string, plus the
/// length of every string. The whole request has [`MAX_READ_BYTES`], each event
/// [`MAX_EVENT_READ_BYTES`].
pub struct Budget {
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
    pub fn start_event(&self) {
        self.event_left.set(MAX_EVENT_READ_BYTES);
        self.event_over.set(false);
    }

    /// Whether the current event went over its share (and was dropped while read).
    pub fn event_over(&self) -> bool {
        self.event_over.get()
    }

    /// Stops reading: `refusal` is the body's error, `E` the parser's.
    pub fn refuse<E: de::Error>(&self, refusal: BodyError) -> E {
        let message = refusal.to_string();
        self.refusal.set(Some(refusal));
        E::custom(message)
    }

    /// The body's error for a parser error: the budget's refusal when it stopped reading,
    /// else invalid JSON.
    pub fn error(&self, err: &serde_json::Error) -> BodyError {
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
pub struct Bounded<'b>(pub &'b Budget);

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
    pub fn object<'de, A: MapAccess<'de>>(
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
pub fn bounded_events<'de, A, T>(
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("writes");
        encoder.finish().expect("finishes")
    }

    #[test]
    fn gzip_base64_and_plain_bodies_all_decode() {
        let json = br#"{"batch":[]}"#;
        assert_eq!(decode(json).expect("plain"), json);
        assert_eq!(decode(&gzip(json)).expect("gzip"), json);
        let form = format!(
            "data={}&compression=base64",
            base64::engine::general_purpose::STANDARD.encode(json)
        );
        assert_eq!(decode(form.as_bytes()).expect("form"), json);
        let gzipped_form = format!(
            "data={}",
            base64::engine::general_purpose::STANDARD.encode(gzip(json))
        );
        assert_eq!(decode(&gzip(gzipped_form.as_bytes())).expect("form"), json);
    }

    #[test]
    fn several_gzip_members_decode_whole_and_a_false_size_trailer_is_refused() {
        let mut members = gzip(br#"{"batch":["#);
        members.extend_from_slice(&gzip(br#"{"event":"a"}]}"#));
        assert_eq!(
            decode(&members).expect("members"),
            br#"{"batch":[{"event":"a"}]}"#
        );
        // A trailer that lies about its member is invalid gzip, whether it says less or more.
        let mut forged = gzip(&[b' '; 5000]);
        let trailer = forged.len() - 4;
        for size in [7_u32, u32::MAX] {
            forged[trailer..].copy_from_slice(&size.to_le_bytes());
            assert_eq!(decode(&forged), Err(BodyError::BadGzip));
        }
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![b'a'; MAX_DECODED_BYTES + 10]);
        assert!(bomb.len() < MAX_RAW_BYTES, "the bomb fits the wire limit");
        assert_eq!(decode(&bomb), Err(BodyError::TooLarge(MAX_DECODED_BYTES)));
        assert_eq!(
            decode_within(&gzip(&[b' '; 40_000]), 32_768),
            Err(BodyError::TooLarge(32_768))
        );
    }

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
