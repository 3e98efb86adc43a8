//! The overview's figures and the trends series, with the measured [`Amount`] they carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::query::scope::{Scope, TimeRange};

/// A figure of the overview, with the same figure for the previous period of equal length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figure {
    pub value: f64,
    pub previous: f64,
    /// `(value - previous) / previous`; null when `previous` is 0.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub change: Option<f64>,
}

/// `GET /api/query/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverviewResponse {
    #[serde(flatten)]
    pub scope: Scope,
    /// The period of equal length just before `range`, which `previous` covers.
    pub previous_range: TimeRange,
    /// `events`, `users`, `pageviews`; and of the sessions that started in the range,
    /// `sessions`, `bounce_rate` (the fraction of one event), `avg_session_seconds` (first to
    /// last event, averaged) and `pages_per_session` (the range's pageviews per session).
    pub figures: BTreeMap<String, Figure>,
}

/// A measured value: a whole number for `count` and `uniques`, a fraction for `sum` and `avg`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Whole(u64),
    Fraction(f64),
}

// One JSON Schema `number` (integers are numbers): the derive would make `oneOf` integer or
// number, which an integer matches twice and so fails.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some(
                "a whole number for the measures count and uniques, a fraction for sum and avg",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Amount {}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendPoint {
    /// The bucket's start, RFC 3339 with the project zone's offset.
    pub t: String,
    pub value: Amount,
}

/// The measure per bucket of one breakdown value (or of all events), every bucket present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendSeries {
    /// What to show: the breakdown value, `other`, or without a breakdown the event (or
    /// `all events`).
    pub label: String,
    /// The breakdown value as stored (`$other` for the rest; empty without a breakdown).
    pub breakdown_value: String,
    /// Sum over the buckets; null for `avg`, whose sum means nothing.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub total: Option<Amount>,
    pub points: Vec<TrendPoint>,
}

/// `GET /api/query/trends`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendsResponse {
    #[serde(flatten)]
    pub scope: Scope,
    /// The `interval` parameter as given (`day` when absent).
    pub interval: String,
    pub series: Vec<TrendSeries>,
    /// With `compare`: the period of equal length just before `range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_range: Option<TimeRange>,
    /// With `compare`: the same series (same breakdown values) over `previous_range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_series: Option<Vec<TrendSeries>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_stay_integers_for_counts_and_floats_for_sums() {
        let json = serde_json::to_string(&[Amount::Whole(3), Amount::Fraction(3.0)]).expect("json");
        assert_eq!(json, "[3,3.0]");
        let back: Vec<Amount> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, [Amount::Whole(3), Amount::Fraction(3.0)]);
    }
}
