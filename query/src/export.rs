//! The export of one tracked person's data (GDPR's right of access): the person a distinct id
//! belongs to, described as the persons API describes them (every id, the resolved
//! properties), and every event of theirs (their engagements included), whatever its time and
//! bots' included, oldest first a page at a time. The cursor is the position of the last event returned (time and id), so
//! a page never shifts when new events arrive.

use contract::erasure::PersonExport;
use uuid::Uuid;

use crate::error::Error;
use crate::events::{EVENT_COLUMNS, StoredEvent};
use crate::persons::list::{Listed, describe};
use crate::persons::sql::MEMBERS;
use crate::store::Store;

/// The stored columns [`EVENT_COLUMNS`] and the export's conditions read, as both tables
/// have them.
const STORED: &str = "project_id, user_hash, event_id, event, kind, distinct_id, user_id, \
     session_id, timestamp, received_at, url, host, path, referrer, referrer_domain, browser, os, \
     device_type, lib, prop_keys, prop_values";

/// One page of an export, checked.
#[derive(Debug)]
pub(crate) struct ExportRequest {
    pub(crate) project: Uuid,
    pub(crate) distinct_id: String,
    pub(crate) limit: usize,
    /// Where the previous page ended: its last event's time (seconds) and id.
    pub(crate) cursor: Option<(u32, Uuid)>,
}

/// The page `request` asks for; 404 when nothing at all is stored of the id.
pub(crate) async fn export(store: &Store, request: ExportRequest) -> Result<PersonExport, Error> {
    let ExportRequest {
        project,
        distinct_id,
        limit,
        cursor,
    } = request;
    let listed = person_of(store, project, &distinct_id).await?;
    let person = describe(store, project, std::slice::from_ref(&listed))
        .await?
        .pop()
        .ok_or_else(nothing_stored)?;
    // Their engagements (time on page, scroll depth) are theirs too, among the events.
    let mut text = format!(
        "SELECT {EVENT_COLUMNS} FROM (\
           SELECT {STORED} FROM events UNION ALL SELECT {STORED} FROM engagement) \
         WHERE project_id = toUUID(?) AND user_hash IN (SELECT cityHash64(arrayJoin(?)))"
    );
    if cursor.is_some() {
        text.push_str(
            " AND (timestamp > toDateTime(?) OR (timestamp = toDateTime(?) AND event_id > toUUID(?)))",
        );
    }
    text.push_str(" ORDER BY timestamp, event_id LIMIT ?");
    let ids: Vec<&str> = person.distinct_ids.iter().map(String::as_str).collect();
    let mut query = store.query(&text).bind(project.to_string()).bind(ids);
    if let Some((seconds, id)) = cursor {
        query = query.bind(seconds).bind(seconds).bind(id.to_string());
    }
    let rows: Vec<StoredEvent> = store.fetch_all(query.bind(limit as u64)).await?;
    if cursor.is_none() && rows.is_empty() && person.distinct_ids.len() == 1 {
        return Err(nothing_stored());
    }
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(StoredEvent::cursor))
        .flatten();
    Ok(PersonExport {
        project_id: project,
        distinct_id,
        person,
        events: rows.into_iter().map(StoredEvent::view).collect(),
        next_cursor,
    })
}

fn nothing_stored() -> Error {
    Error::NotFound("nothing is stored of this distinct id".to_owned())
}

/// The person `distinct_id` of `project` belongs to: the one a link made it part of, else its
/// own (an id never linked, or linked only as the person's canonical id).
async fn person_of(store: &Store, project: Uuid, distinct_id: &str) -> Result<Listed, Error> {
    let linked: Vec<Listed> = store
        .fetch_all(
            store
                .query(&format!(
                    "SELECT linked_hash AS person, linked_key AS person_key FROM ({MEMBERS}) \
                     WHERE distinct_id = ? AND linked_hash != 0"
                ))
                .bind(project.to_string())
                .bind(distinct_id),
        )
        .await?;
    if let Some(person) = linked.into_iter().next() {
        return Ok(person);
    }
    let hashed: Vec<u64> = store
        .fetch_all(store.query("SELECT cityHash64(?)").bind(distinct_id))
        .await?;
    let person = hashed.into_iter().next().ok_or_else(nothing_stored)?;
    Ok(Listed {
        person,
        person_key: distinct_id.to_owned(),
    })
}
