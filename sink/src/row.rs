//! One row of the events table, made from an event: what the sink, `sink replay` and the
//! benchmarks write.

use contract::event::Event;
use serde::Serialize;
use uuid::Uuid;

/// One row of `events`, in the column order of the table.
#[derive(Debug, Clone, clickhouse::Row, Serialize)]
pub struct EventRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub project_id: Uuid,
    /// Days since 1970-01-01 (ClickHouse `Date`).
    pub date: u16,
    /// Seconds since the epoch (ClickHouse `DateTime`).
    pub timestamp: u32,
    pub event: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub kind: String,
    pub distinct_id: String,
    pub user_id: String,
    pub session_id: String,
    pub received_at: u32,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
    pub url: String,
    pub host: String,
    pub path: String,
    pub referrer: String,
    pub referrer_domain: String,
    pub browser: String,
    pub os: String,
    pub device_type: String,
    pub lib: String,
    pub ip: String,
    pub is_bot: u8,
    pub country: String,
    pub region: String,
    pub city: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_term: String,
    pub utm_content: String,
    pub channel: String,
    pub stream_sequence: u64,
}

impl EventRow {
    /// The row of `event`, stored from stream sequence `sequence`.
    pub fn new(event: Event, sequence: u64) -> Self {
        let seconds = |at: time::OffsetDateTime| {
            u32::try_from(at.unix_timestamp().max(0)).unwrap_or(u32::MAX)
        };
        let (prop_keys, prop_values) = event
            .properties
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (key, text)
            })
            .unzip();
        let context = event.context;
        Self {
            project_id: event.project_id,
            date: u16::try_from(event.timestamp.unix_timestamp().max(0) / 86_400)
                .unwrap_or(u16::MAX),
            timestamp: seconds(event.timestamp),
            event: event.event,
            event_id: event.event_id,
            kind: event.kind.as_str().to_owned(),
            distinct_id: event.distinct_id,
            user_id: event.user_id.map(|id| id.to_string()).unwrap_or_default(),
            session_id: event.session_id.unwrap_or_default(),
            received_at: seconds(event.received_at),
            prop_keys,
            prop_values,
            url: context.url,
            host: context.host,
            path: context.path,
            referrer: context.referrer,
            referrer_domain: context.referrer_domain,
            browser: context.browser,
            os: context.os,
            device_type: context.device_type,
            lib: context.lib,
            ip: context.ip,
            is_bot: u8::from(context.is_bot),
            country: context.country,
            region: context.region,
            city: context.city,
            utm_source: context.utm_source,
            utm_medium: context.utm_medium,
            utm_campaign: context.utm_campaign,
            utm_term: context.utm_term,
            utm_content: context.utm_content,
            channel: context.channel,
            stream_sequence: sequence,
        }
    }
}
