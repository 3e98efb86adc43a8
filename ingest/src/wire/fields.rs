//! What every wire format reads the same way: event ids, times, and the limits of one event.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Most properties on one event.
pub(crate) const MAX_PROPERTIES: usize = 1000;
/// Events more than this far in the future get the receive time instead.
const MAX_FUTURE: time::Duration = time::Duration::hours(23);

/// The SDK's id when it is a UUID; otherwise a UUIDv5 of project and id, so a retry of the same
/// event maps to the same id.
pub(crate) fn event_id(project_id: Uuid, id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_else(|_| Uuid::new_v5(&project_id, id.as_bytes()))
}

pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// `at`, unless it is more than [`MAX_FUTURE`] after `received_at`: then the receive time, and
/// the event's `properties` say so.
pub(crate) fn not_in_future(
    at: OffsetDateTime,
    received_at: OffsetDateTime,
    properties: &mut Map<String, Value>,
) -> OffsetDateTime {
    if at - received_at > MAX_FUTURE {
        properties.insert("$ingest_future_timestamp".to_owned(), Value::Bool(true));
        return received_at;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_uuid_id_maps_to_the_same_uuid_every_time() {
        let project = Uuid::now_v7();
        assert_eq!(
            event_id(project, "node-next-1-abc"),
            event_id(project, "node-next-1-abc")
        );
        assert_ne!(
            event_id(project, "node-next-1-abc"),
            event_id(Uuid::now_v7(), "node-next-1-abc")
        );
        let real = Uuid::now_v7();
        assert_eq!(event_id(project, &real.to_string()), real);
    }
}
