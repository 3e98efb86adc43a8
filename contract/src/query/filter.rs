//! One condition on a dimension or property, as the `filter` parameter and funnel steps take it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One condition on a dimension or property: of the `filter` parameter (a JSON array of them)
/// and of a funnel step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// A dimension (`event`, `path`, `host`, `url`, `referrer`, `browser`, `os`, `device`,
    /// `kind`, `lib`, `distinct_id`, …), `property:<key>` or `person:<key>` (the person's).
    pub key: String,
    /// `gt`, `gte`, `lt` and `lte` compare numbers; `set` and `not_set` take no value.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(eq|neq|contains|set|not_set|gt|gte|lt|lte)$")
    )]
    pub op: String,
    /// The operand: see [`FILTER_VALUE`].
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = filter_value_schema))]
    pub value: Option<Value>,
}

/// What a filter's `value` holds, by `op`.
pub const FILTER_VALUE: &str = "text (or a number or boolean, compared as text) for `eq`, `neq` \
     and `contains`; a number (or text holding one) for `gt`, `gte`, `lt` and `lte`; nothing for \
     `set` and `not_set`";

/// Text, a number, a boolean or null, as [`FILTER_VALUE`] says.
#[cfg(feature = "openapi")]
fn filter_value_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Boolean,
            Type::Null,
        ]))
        .description(Some(FILTER_VALUE))
        .build()
}
