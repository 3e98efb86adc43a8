//! The properties the demo's events carry.

use serde_json::{Map, Value, json};

/// The value events carry: euros as a number.
pub(crate) fn amount(cents: u64) -> Value {
    json!(cents as f64 / 100.0)
}

/// The properties of an event, from a JSON object.
pub(crate) fn properties(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
