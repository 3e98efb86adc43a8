//! JetStream stream, subject and durable consumer names (see the JetStream contract in README).

/// Ingested events the sink has not stored yet, on `events.<project_id>.<kind>` (interest
/// retention: a message leaves once the sink and the history have it).
pub const EVENTS_STREAM: &str = "EVENTS";
/// Every ingested event for replay, sourced from [`EVENTS_STREAM`] on the same subjects and kept
/// by age and size (the oldest leave first; intake never waits on it).
pub const EVENTS_HISTORY_STREAM: &str = "EVENTS_HISTORY";
/// Events the sink could not store after its maximum deliveries, on `dlq.events.<project_id>`.
pub const EVENTS_DLQ_STREAM: &str = "EVENTS_DLQ";
/// Every user, project and write-key change, kept forever.
pub const AUTH_STREAM: &str = "AUTH";
/// Identity links (`persons.<project_id>.link`), kept forever: the person mapping is a
/// projection of them; and erasures of persons (`persons.<project_id>.erase`), each deleted
/// once done.
pub const PERSONS_STREAM: &str = "PERSONS";
/// JetStream KV bucket of the daily secret salts of cookieless visitor ids, keyed by UTC date
/// (`2026-12-04`); every salt is deleted two days after it was made.
pub const VISITOR_SALTS_BUCKET: &str = "VISITOR_SALTS";
/// JetStream KV bucket of failed logins per account and client address (auth's lockout), each
/// entry expiring a window after its last failure.
pub const LOGIN_FAILURES_BUCKET: &str = "AUTH_LOGIN_FAILURES";
/// JetStream KV bucket of the erased persons, owned by the sink: a keyed hash of every erased
/// distinct id (`id.<project_id>.<hex HMAC-SHA256>`), so that no event or link of theirs is
/// stored again, and the random key of those hashes (`hmac-key`). No id is in it in clear.
pub const ERASED_BUCKET: &str = "ERASED_PERSONS";

/// Durable pull consumer on [`EVENTS_STREAM`] that stores events in ClickHouse.
pub const SINK_CONSUMER: &str = "sink-clickhouse";
/// Durable pull consumer on [`PERSONS_STREAM`] that applies identity links to the person
/// mapping in ClickHouse, one at a time in stream order (`max_ack_pending` 1).
pub const PERSONS_CONSUMER: &str = "sink-persons";
/// Durable pull consumer on [`AUTH_STREAM`] that applies auth events to the Postgres projections.
pub const AUTH_PROJECTOR_CONSUMER: &str = "auth-projector";

/// NATS message header holding the id of the HTTP request that published an event.
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// NATS message header holding the W3C trace context of that request.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// NATS message header (value `1`) of an event published by `cargo xtask import`: the sink looks
/// its id up in ClickHouse before storing it, as it does for a redelivery, so an import run
/// again past JetStream's duplicate window stores nothing twice.
pub const IMPORT_HEADER: &str = "Event-Import";

/// NATS message header of a dead letter on [`EVENTS_DLQ_STREAM`]: why the sink could not store
/// the event (`sink dlq list` shows it).
pub const DLQ_ERROR_HEADER: &str = "Sink-Error";

/// NATS message header of a dead letter: the subject the event had on [`EVENTS_STREAM`], where
/// `sink dlq redrive` sends it back.
pub const DLQ_ORIGINAL_SUBJECT_HEADER: &str = "Sink-Original-Subject";

/// Subject of one event: `events.<project_id>.<kind>`.
pub fn event_subject(project_id: &str, kind: &str) -> String {
    format!("events.{project_id}.{kind}")
}

/// Subject of one dead-lettered event: `dlq.events.<project_id>`.
pub fn dlq_subject(project_id: &str) -> String {
    format!("dlq.events.{project_id}")
}

/// Subject of an identity link: `persons.<project_id>.link`.
pub fn person_link_subject(project_id: &str) -> String {
    format!("persons.{project_id}.link")
}

/// Subject of an erasure of a person: `persons.<project_id>.erase` ([`crate::persons::Erasure`]).
pub fn person_erase_subject(project_id: &str) -> String {
    format!("persons.{project_id}.erase")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_documented_layout() {
        assert_eq!(event_subject("p1", "track"), "events.p1.track");
        assert_eq!(dlq_subject("p1"), "dlq.events.p1");
        assert_eq!(person_link_subject("p1"), "persons.p1.link");
        assert_eq!(person_erase_subject("p1"), "persons.p1.erase");
    }
}
