//! The event envelope: every event, whatever SDK sent it, as it travels on the `EVENTS` stream
//! (JSON, so `nats stream view` shows it) and into ClickHouse.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// The largest request body ingest reads off the wire on any of its routes, gzip or not (what
/// it decompresses to has a limit of its own). Edge refuses a larger body itself, so the client
/// gets the 413 and not a connection broken half way through its upload.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The most a request body may decompress to at ingest.
pub const MAX_DECODED_REQUEST_BYTES: usize = 20 * 1024 * 1024;

/// The kind of an event, the last token of its subject `events.<project_id>.<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Track,
    Page,
    Screen,
    Identify,
    Alias,
    Group,
    /// How long a page view was looked at and how far down it was scrolled, told when the page
    /// is left or hidden (Plausible's `engagement`, posthog-js's `$pageleave` and the
    /// `$prev_pageview_*` of the next page view): no event of its own, but the time on page and
    /// scroll depth of the page view it follows, kept apart from the events.
    Engagement,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Track => "track",
            EventKind::Page => "page",
            EventKind::Screen => "screen",
            EventKind::Identify => "identify",
            EventKind::Alias => "alias",
            EventKind::Group => "group",
            EventKind::Engagement => "engagement",
        }
    }
}

/// The name of every [`EventKind::Engagement`].
pub const ENGAGEMENT_EVENT: &str = "$engagement";

/// The property of an engagement holding the time the page was looked at, in whole
/// milliseconds, and the one holding how far it was scrolled, in percent of the page (0 to
/// 100; absent when the tracker did not measure it).
pub const ENGAGED_MS: &str = "$engaged_ms";
pub const SCROLL_DEPTH: &str = "$scroll_depth";

/// One event, normalised. Its properties are a JSON object; a reader that does not need them
/// as values (the sink, which stores their text) reads them as a type of its own (`P`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<P = Map<String, Value>> {
    /// The SDK's id (`uuid`, `messageId`), a UUIDv5 of project and a non-UUID id, or a fresh
    /// UUIDv7 when the SDK sent none. The `Nats-Msg-Id` and the last column of the sorting key.
    pub event_id: Uuid,
    pub project_id: Uuid,
    pub kind: EventKind,
    /// Event name (`$pageview`, `Signed Up`, …).
    pub event: String,
    /// Who did it, as the SDK names them (PostHog `distinct_id`, Segment `userId` or
    /// `anonymousId`).
    pub distinct_id: String,
    /// The logged-in dashboard user, from the verified token (native API only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// When it happened, corrected for the client's clock skew.
    #[serde(with = "rfc3339")]
    pub timestamp: OffsetDateTime,
    /// When ingest received it.
    #[serde(with = "rfc3339")]
    pub received_at: OffsetDateTime,
    #[serde(default)]
    pub properties: P,
    #[serde(default)]
    pub context: EventContext,
}

impl<P> Event<P> {
    /// The same event with its properties turned into `Q` by `f`.
    pub fn map_properties<Q>(self, f: impl FnOnce(P) -> Q) -> Event<Q> {
        Event {
            event_id: self.event_id,
            project_id: self.project_id,
            kind: self.kind,
            event: self.event,
            distinct_id: self.distinct_id,
            user_id: self.user_id,
            session_id: self.session_id,
            timestamp: self.timestamp,
            received_at: self.received_at,
            properties: f(self.properties),
            context: self.context,
        }
    }
}

/// What ingest derived from the request and the event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContext {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub referrer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub referrer_domain: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub browser: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_type: String,
    /// The SDK (`posthog-js`, `analytics-node`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lib: String,
    /// The client address with its last octet (IPv4) or last 80 bits (IPv6) zeroed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(default)]
    pub is_bot: bool,
    /// Where the client address is: ISO 3166-1 alpha-2 country code (`US`), region and city
    /// names in English, from the GeoIP database; empty without one or for an unknown address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub country: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub city: String,
    /// The campaign parameters: the event's property of the same name, else the SDK's campaign
    /// context (Segment `context.campaign`), else the page URL's query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub utm_source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub utm_medium: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub utm_campaign: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub utm_term: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub utm_content: String,
    /// The acquisition channel (`Direct`, `Organic Search`, `Paid Social`, …) by GA4's default
    /// channel grouping, from the campaign parameters and the referrer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
}

/// An event of a request that was not accepted, by its position in the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejected {
    pub index: usize,
    pub error: String,
}

/// Answer of `POST /api/events`: how many events were stored, and which were refused and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NativeAccepted {
    /// Events stored.
    pub accepted: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejected>,
}

/// RFC 3339 date-times exactly as `time::serde::rfc3339` writes and reads them, written from a
/// buffer on the stack rather than a `String` per field: ingest writes two for every event.
mod rfc3339 {
    use serde::{Serializer, ser::Error as _};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub use time::serde::rfc3339::deserialize;

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        // The longest is `-9999-12-31T23:59:59.999999999+23:59`, 36 bytes.
        let mut buffer = [0_u8; 64];
        let mut rest = &mut buffer[..];
        at.format_into(&mut rest, &Rfc3339)
            .map_err(S::Error::custom)?;
        // What was written is what the writer moved past (the count `format_into` returns is
        // not the whole length).
        let length = 64 - rest.len();
        let text = std::str::from_utf8(&buffer[..length]).map_err(S::Error::custom)?;
        serializer.serialize_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_are_written_as_time_writes_them() {
        let at = OffsetDateTime::now_utc();
        for at in [
            at,
            at.replace_nanosecond(0).expect("valid"),
            OffsetDateTime::UNIX_EPOCH,
        ] {
            let expected = serde_json::to_string(
                &at.format(&time::format_description::well_known::Rfc3339)
                    .expect("formats"),
            )
            .expect("writes");
            let mut written = Vec::new();
            rfc3339::serialize(&at, &mut serde_json::Serializer::new(&mut written))
                .expect("writes");
            assert_eq!(String::from_utf8(written).expect("utf-8"), expected);
        }
    }
}
