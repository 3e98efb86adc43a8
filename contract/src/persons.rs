//! Persons on the wire: the identity links ingest publishes to the `PERSONS` stream, from which
//! the sink projects which distinct ids are one person.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Two distinct ids of one project that are one person, as an identifying event said
/// (PostHog `$identify` with `$anon_distinct_id`, `$create_alias`; Segment `identify` with
/// `anonymousId` and `userId`, `alias` with `previousId`). Published on
/// `persons.<project_id>.link`; a link is never undone.
///
/// When the two ids belong to different persons, the person of `distinct_id` survives and
/// every id of the person of `other_id` joins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub project_id: Uuid,
    /// The identified id, which is kept: the event's `distinct_id` (`userId`).
    pub distinct_id: String,
    /// The id merged into it: `$anon_distinct_id`, the alias, `anonymousId`, `previousId`.
    pub other_id: String,
    /// The event that made the link.
    pub event_id: Uuid,
    /// When that event happened.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
}

impl Link {
    /// The `Nats-Msg-Id` of the link made by event `event_id`: derived from it, so a client
    /// retrying the event publishes the link again under the same id, and JetStream drops the
    /// copy as it drops the event's.
    pub fn message_id(event_id: Uuid) -> Uuid {
        Uuid::new_v5(&event_id, b"persons.link")
    }
}

/// A request to erase the person `distinct_id` belongs to, with every id merged into it
/// (`DELETE /api/admin/projects/{project_id}/persons/{distinct_id}`). Published on
/// `persons.<project_id>.erase`, in stream order with the links, so it erases the person as
/// the links before it made it. The sink deletes this message once the erasure is done (it
/// holds the id in clear); what stays is a keyed hash of each erased id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub erasure_id: Uuid,
    pub project_id: Uuid,
    /// Any id of the person.
    pub distinct_id: String,
    /// The admin who asked (their user id).
    pub requested_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
}

impl Erasure {
    /// The `Nats-Msg-Id` of the erasure: its id, so a retried request is stored once.
    pub fn message_id(&self) -> String {
        format!("erase-{}", self.erasure_id)
    }
}

/// The id of the person whose canonical distinct id is `person_key`: a UUIDv5 of project and
/// key, the same wherever it is computed (`person_ids.person_id`).
pub fn person_id(project_id: Uuid, person_key: &str) -> Uuid {
    Uuid::new_v5(&project_id, person_key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_reads_back_as_written_and_its_message_id_follows_the_event() {
        let event_id = Uuid::now_v7();
        let link = Link {
            project_id: Uuid::now_v7(),
            distinct_id: "user-1".to_owned(),
            other_id: "anon-1".to_owned(),
            event_id,
            timestamp: OffsetDateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_value(&link).expect("json");
        assert_eq!(json["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(serde_json::from_value::<Link>(json).expect("reads"), link);
        assert_eq!(Link::message_id(event_id), Link::message_id(event_id));
        assert_ne!(Link::message_id(event_id), event_id);
        let erasure = Erasure {
            erasure_id: Uuid::now_v7(),
            project_id: Uuid::now_v7(),
            distinct_id: "user-1".to_owned(),
            requested_by: Uuid::now_v7(),
            requested_at: OffsetDateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_value(&erasure).expect("json");
        assert_eq!(
            serde_json::from_value::<Erasure>(json).expect("reads"),
            erasure
        );
        let project = Uuid::now_v7();
        assert_eq!(person_id(project, "u"), person_id(project, "u"));
        assert_ne!(person_id(project, "u"), person_id(project, "v"));
    }
}
