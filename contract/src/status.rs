//! `GET /api/admin/status`: what an admin checks first when numbers look wrong — whether every
//! service is ready, how far the sink is behind the stream, what waits in the dead-letter
//! stream, and how much ClickHouse holds.

use serde::{Deserialize, Serialize};

use crate::erasure::PendingErasure;

/// The whole answer. Each part is gathered on its own: one that could not be read is `null`
/// (with the reason in `problems`) and the rest is still shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemStatus {
    /// When the figures were read, RFC 3339 in UTC.
    pub checked_at: String,
    /// Every service's readiness, as its `/readyz` answered edge.
    pub services: Vec<ServiceStatus>,
    /// The JetStream streams (`EVENTS`, `EVENTS_HISTORY`, `EVENTS_DLQ`, `AUTH`).
    pub streams: Vec<StreamStatus>,
    /// The durable consumers on them (the sink's, auth's projector).
    pub consumers: Vec<ConsumerStatus>,
    /// Messages waiting in the dead-letter stream; null when it could not be read.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub dlq_messages: Option<u64>,
    /// What ClickHouse holds; null when it could not be read.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub clickhouse: Option<ClickHouseStatus>,
    /// Erasures of tracked persons asked for and not done yet, oldest first.
    #[serde(default)]
    pub pending_erasures: Vec<PendingErasure>,
    /// Parts that could not be read, as sentences for the admin.
    pub problems: Vec<String>,
}

/// Query's part of the status (`GET /api/query/system`, admins): the streams, the durable
/// consumers and ClickHouse, each read on its own. Edge adds the services' readiness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineStatus {
    /// The JetStream streams that could be read (`EVENTS`, `EVENTS_HISTORY`, `EVENTS_DLQ`,
    /// `AUTH`).
    pub streams: Vec<StreamStatus>,
    /// The durable consumers that could be read (the sink's, auth's projector).
    pub consumers: Vec<ConsumerStatus>,
    /// Messages waiting in the dead-letter stream; null when it could not be read.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub dlq_messages: Option<u64>,
    /// What ClickHouse holds; null when it could not be read.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub clickhouse: Option<ClickHouseStatus>,
    /// Erasures of tracked persons asked for and not done yet, oldest first.
    #[serde(default)]
    pub pending_erasures: Vec<PendingErasure>,
    /// Parts that could not be read, as sentences for the admin.
    pub problems: Vec<String>,
}

impl SystemStatus {
    /// The whole answer from the services' readiness and query's part.
    pub fn new(checked_at: String, services: Vec<ServiceStatus>, pipeline: PipelineStatus) -> Self {
        Self {
            checked_at,
            services,
            streams: pipeline.streams,
            consumers: pipeline.consumers,
            dlq_messages: pipeline.dlq_messages,
            clickhouse: pipeline.clickhouse,
            pending_erasures: pipeline.pending_erasures,
            problems: pipeline.problems,
        }
    }
}

/// One service's readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceStatus {
    /// `edge`, `ingest`, `sink`, `query` or `auth`.
    pub name: String,
    pub ready: bool,
    /// Why it is not ready (its failing checks, or why it did not answer).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub detail: Option<String>,
}

/// One stream's size, and how close it is to its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamStatus {
    pub name: String,
    pub messages: u64,
    pub bytes: u64,
    /// Sequence of the first and last message kept.
    pub first_sequence: u64,
    pub last_sequence: u64,
    /// The most messages the stream keeps; null when unlimited.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub max_messages: Option<u64>,
    /// The most bytes the stream keeps; null when unlimited.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub max_bytes: Option<u64>,
    /// Whether a full stream refuses new messages (`EVENTS`, the unstored backlog: ingest
    /// answers 503 then) instead of dropping its oldest (`EVENTS_HISTORY`).
    #[serde(default)]
    pub refuses_when_full: bool,
}

impl StreamStatus {
    /// How full the stream is, in percent of the nearer of its limits (rounded down); `None`
    /// when it has none.
    pub fn used_percent(&self) -> Option<u64> {
        let of = |used: u64, limit: Option<u64>| {
            limit
                .filter(|limit| *limit > 0)
                .map(|limit| used.saturating_mul(100) / limit)
        };
        let by_messages = of(self.messages, self.max_messages);
        let by_bytes = of(self.bytes, self.max_bytes);
        by_messages.max(by_bytes)
    }
}

/// One durable consumer's backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsumerStatus {
    pub stream: String,
    pub name: String,
    /// Messages not given to the consumer yet.
    pub pending: u64,
    /// Messages given and not acked yet.
    pub ack_pending: u64,
    /// Messages given more than once and not acked yet.
    pub redelivered: u64,
}

/// The events table in ClickHouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClickHouseStatus {
    /// Rows of the active parts (before merges remove replaced copies).
    pub rows: u64,
    pub bytes_on_disk: u64,
    pub parts: u64,
    /// The server's version.
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(messages: u64, bytes: u64, limits: (Option<u64>, Option<u64>)) -> StreamStatus {
        StreamStatus {
            name: "EVENTS".to_owned(),
            messages,
            bytes,
            first_sequence: 1,
            last_sequence: messages,
            max_messages: limits.0,
            max_bytes: limits.1,
            refuses_when_full: true,
        }
    }

    #[test]
    fn a_stream_is_as_full_as_its_nearest_limit() {
        assert_eq!(
            stream(10, 900, (Some(100), Some(1000))).used_percent(),
            Some(90)
        );
        assert_eq!(
            stream(50, 100, (Some(100), Some(1000))).used_percent(),
            Some(50)
        );
        assert_eq!(stream(50, 100, (None, Some(1000))).used_percent(), Some(10));
        assert_eq!(stream(50, 100, (None, None)).used_percent(), None);
    }
}
