//! One person by id, with a page of their events. The id is a UUIDv5 of the project and the
//! person's canonical distinct id: a linked person's rows carry it; an id never linked is found
//! among the distinct ids of the project's events by the SHA-1 the UUID is made of. An id of a
//! person that was merged into another answers the one it is now part of.

use clickhouse::Row;
use contract::query::PersonResponse;
use serde::Deserialize;
use uuid::Uuid;

use super::list::{Listed, describe};
use crate::error::Error;
use crate::events::{EVENT_COLUMNS, StoredEvent};
use crate::scope::Scope;
use crate::store::Store;

/// Most distinct ids checked against the id's SHA-1 (two ids sharing its 112 bits compared
/// in SQL are not expected, but only an exact match answers).
const CANDIDATES: u64 = 10;

/// One page of a person's events, checked.
#[derive(Debug)]
pub(crate) struct PersonRequest {
    pub(crate) id: Uuid,
    pub(crate) limit: usize,
    /// Where the previous page ended: its last event's time (seconds) and id.
    pub(crate) cursor: Option<(u32, Uuid)>,
}

/// The person `request.id` of the scope's project, with a page of their events in the scope.
pub(crate) async fn person(
    store: &Store,
    scope: &Scope,
    request: PersonRequest,
) -> Result<PersonResponse, Error> {
    let found = find(store, scope.project, request.id)
        .await?
        .ok_or_else(|| Error::NotFound("no such person".to_owned()))?;
    let person = describe(store, scope.project, std::slice::from_ref(&found))
        .await?
        .pop()
        .ok_or_else(|| Error::NotFound("no such person".to_owned()))?;
    let ids: Vec<&str> = person.distinct_ids.iter().map(String::as_str).collect();
    let mut text = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {} \
         AND user_hash IN (SELECT cityHash64(arrayJoin(?)))",
        scope.where_sql()
    );
    if request.cursor.is_some() {
        text.push_str(
            " AND (timestamp < toDateTime(?) OR (timestamp = toDateTime(?) AND event_id < toUUID(?)))",
        );
    }
    text.push_str(" ORDER BY timestamp DESC, event_id DESC LIMIT ?");
    let mut query = scope.bind(store.query(&text), &scope.range).bind(ids);
    if let Some((seconds, id)) = request.cursor {
        query = query.bind(seconds).bind(seconds).bind(id.to_string());
    }
    let rows: Vec<StoredEvent> = store.fetch_all(query.bind(request.limit as u64)).await?;
    let next_cursor = (rows.len() == request.limit)
        .then(|| rows.last().map(StoredEvent::cursor))
        .flatten();
    Ok(PersonResponse {
        scope: scope.to_wire(),
        person,
        events: rows.into_iter().map(StoredEvent::view).collect(),
        next_cursor,
    })
}

#[derive(Debug, Row, Deserialize)]
struct Candidate {
    distinct_id: String,
}

#[derive(Debug, Row, Deserialize)]
struct Linked {
    linked_hash: u64,
    linked_key: String,
}

/// The person whose id is `id`, by hash and canonical id: a linked person's, else the person
/// of the distinct id whose UUIDv5 it is.
async fn find(store: &Store, project: Uuid, id: Uuid) -> Result<Option<Listed>, Error> {
    let linked: Vec<Listed> = store
        .fetch_all(
            store
                .query(
                    "SELECT person, person_key FROM ( \
                       SELECT argMax(person_id, version) AS current_id, \
                         argMax(person_hash, version) AS person, \
                         argMax(person_key, version) AS person_key, \
                         argMax(is_deleted, version) AS deleted \
                       FROM person_ids WHERE project_id = toUUID(?) GROUP BY distinct_id) \
                     WHERE current_id = toUUID(?) AND deleted = 0 LIMIT 1",
                )
                .bind(project.to_string())
                .bind(id.to_string()),
        )
        .await?;
    if let Some(person) = linked.into_iter().next() {
        return Ok(Some(person));
    }
    let Some(distinct_id) = distinct_id_of(store, project, id).await? else {
        return Ok(None);
    };
    // A distinct id of the events whose person is now another (it was merged) answers that one.
    let merged: Vec<Linked> = store
        .fetch_all(
            store
                .query(&format!(
                    "SELECT linked_hash, linked_key FROM ({}) \
                     WHERE distinct_id = ? AND linked_hash != 0",
                    super::sql::MEMBERS
                ))
                .bind(project.to_string())
                .bind(distinct_id.as_str()),
        )
        .await?;
    if let Some(merged) = merged.into_iter().next() {
        return Ok(Some(Listed {
            person: merged.linked_hash,
            person_key: merged.linked_key,
        }));
    }
    let hashed: Vec<u64> = store
        .fetch_all(
            store
                .query("SELECT cityHash64(?)")
                .bind(distinct_id.as_str()),
        )
        .await?;
    Ok(hashed.into_iter().next().map(|person| Listed {
        person,
        person_key: distinct_id,
    }))
}

/// The distinct id of the project's events whose UUIDv5 (of the project) is `id`. The SQL
/// compares SHA-1 digests in hexadecimal, every digit but the version's and the variant's
/// (which the UUID overwrites); the candidates are then checked in full.
async fn distinct_id_of(store: &Store, project: Uuid, id: Uuid) -> Result<Option<String>, Error> {
    let hex = id.simple().to_string().to_uppercase();
    let pattern = format!("{}_{}_{}%", &hex[..12], &hex[13..16], &hex[17..]);
    let candidates: Vec<Candidate> = store
        .fetch_all(
            store
                .query(
                    "SELECT distinct_id FROM ( \
                       SELECT any(distinct_id) AS distinct_id FROM events \
                       WHERE project_id = toUUID(?) GROUP BY user_hash) \
                     WHERE hex(SHA1(concat(UUIDStringToNum(?), distinct_id))) LIKE ? LIMIT ?",
                )
                .bind(project.to_string())
                .bind(project.to_string())
                .bind(pattern)
                .bind(CANDIDATES),
        )
        .await?;
    Ok(candidates
        .into_iter()
        .map(|candidate| candidate.distinct_id)
        .find(|candidate| contract::persons::person_id(project, candidate) == id))
}
