//! The persons list: the persons with an event in the scope (its range and filters), ordered
//! by canonical distinct id, which is stable and unique per person, so the cursor (the last
//! person's canonical id) never skips or repeats one; and what is shown of each person (its
//! ids, resolved properties, first and last event), which the one-person answer shares.

use std::collections::BTreeMap;

use clickhouse::Row;
use contract::query::{PersonView, PersonsPage};
use serde::Deserialize;
use uuid::Uuid;

use super::sql::{Fragment, MEMBERS, PERSON, join, resolved};
use crate::error::Error;
use crate::scope::Scope;
use crate::store::Store;

/// Longest `search` text.
pub(crate) const MAX_SEARCH_CHARS: usize = 200;

/// One page request, checked.
#[derive(Debug)]
pub(crate) struct ListRequest {
    /// Text a distinct id or a property value of the person contains (any case).
    pub(crate) search: Option<String>,
    pub(crate) limit: usize,
    /// The canonical id of the last person of the previous page.
    pub(crate) after: Option<String>,
}

/// A `cursor` parameter, as [`list`] returns it: the canonical id in hexadecimal (an id may
/// hold any character).
pub(crate) fn parse_cursor(text: &str) -> Result<String, Error> {
    let bad = || Error::Invalid("cursor is not one this API returned".to_owned());
    let bytes = (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    String::from_utf8(bytes).map_err(|_| bad())
}

fn cursor_of(person_key: &str) -> String {
    person_key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A person: its hash (`cityHash64` of its canonical id, as [`PERSON`] gives it) and its
/// canonical id.
#[derive(Debug, Clone, Row, Deserialize)]
pub(crate) struct Listed {
    pub(crate) person: u64,
    pub(crate) person_key: String,
}

/// A page of the persons with an event in the scope, by canonical distinct id.
pub(crate) async fn list(
    store: &Store,
    scope: &Scope,
    request: ListRequest,
) -> Result<PersonsPage, Error> {
    let listed = page(store, scope, &request).await?;
    let next_cursor = (listed.len() == request.limit)
        .then(|| listed.last().map(|last| cursor_of(&last.person_key)))
        .flatten();
    Ok(PersonsPage {
        scope: scope.to_wire(),
        persons: describe(store, scope.project, &listed).await?,
        next_cursor,
    })
}

/// The persons of one page. Each distinct id seen in the scope (once, by hash) is resolved to
/// its person; a search also matches the ids linked to a person and its properties.
async fn page(store: &Store, scope: &Scope, request: &ListRequest) -> Result<Vec<Listed>, Error> {
    let links = Fragment {
        sql: format!(
            "SELECT cityHash64(distinct_id) AS user_hash, linked_hash, linked_key FROM ({MEMBERS})"
        ),
        binds: vec![scope.project.to_string()],
    };
    let mut conditions = Vec::new();
    if request.after.is_some() {
        conditions.push("person_key > ?".to_owned());
    }
    let search = request
        .search
        .as_deref()
        .map(|text| matching(scope.project, text));
    if let Some(search) = &search {
        conditions.push(format!(
            "(id_match = 1 OR positionCaseInsensitive(person_key, ?) > 0 OR person GLOBAL IN ({}))",
            search.sql
        ));
    }
    let text = format!(
        "SELECT person, person_key FROM ( \
           SELECT {PERSON} AS person, any(if(linked_hash = 0, distinct_id, linked_key)) AS person_key, \
             max(positionCaseInsensitive(distinct_id, ?) > 0) AS id_match \
           FROM (SELECT user_hash, any(distinct_id) AS distinct_id FROM events WHERE {} \
                 GROUP BY user_hash) AS seen \
           ANY LEFT JOIN ({}) AS persons USING user_hash \
           GROUP BY person) \
         {}{} ORDER BY person_key LIMIT ?",
        scope.where_sql(),
        links.sql,
        if conditions.is_empty() { "" } else { "WHERE " },
        conditions.join(" AND "),
    );
    let searched = request.search.as_deref().unwrap_or_default();
    let mut query = scope.bind(store.query(&text).bind(searched), &scope.range);
    query = links.bind(query);
    if let Some(after) = &request.after {
        query = query.bind(after.as_str());
    }
    if let Some(search) = &search {
        query = search.bind(query.bind(searched));
    }
    Ok(store.fetch_all(query.bind(request.limit as u64)).await?)
}

/// The hashes of the persons one of whose linked ids or resolved property values contains
/// `text` (any case).
fn matching(project: Uuid, text: &str) -> Fragment {
    let values = resolved(project, &[]);
    let sql = format!(
        "SELECT linked_hash FROM ({MEMBERS}) \
         WHERE linked_hash != 0 AND positionCaseInsensitive(distinct_id, ?) > 0 \
         UNION ALL \
         SELECT person FROM ({}) WHERE positionCaseInsensitive(value, ?) > 0",
        values.sql
    );
    let mut binds = vec![project.to_string(), text.to_owned()];
    binds.extend(values.binds);
    binds.push(text.to_owned());
    Fragment { sql, binds }
}

#[derive(Debug, Row, Deserialize)]
struct Member {
    person_key: String,
    distinct_id: String,
}

#[derive(Debug, Row, Deserialize)]
struct Property {
    person: u64,
    key: String,
    value: String,
}

#[derive(Debug, Row, Deserialize)]
struct Seen {
    person: u64,
    first_seen: u32,
    last_seen: u32,
}

/// What is shown of each of `persons`, in their order: their ids (the canonical one and every
/// id linked to it), their resolved properties, their first and last event ever.
pub(crate) async fn describe(
    store: &Store,
    project: Uuid,
    persons: &[Listed],
) -> Result<Vec<PersonView>, Error> {
    if persons.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&str> = persons.iter().map(|p| p.person_key.as_str()).collect();
    let hashes: Vec<u64> = persons.iter().map(|p| p.person).collect();
    let members: Vec<Member> = store
        .fetch_all(
            store
                .query(&format!(
                    "SELECT linked_key AS person_key, distinct_id FROM ({MEMBERS}) \
                     WHERE linked_hash != 0 AND linked_key IN (SELECT arrayJoin(?))"
                ))
                .bind(project.to_string())
                .bind(keys.clone()),
        )
        .await?;
    let mut ids: BTreeMap<&str, Vec<String>> = keys
        .iter()
        .map(|key| (*key, vec![(*key).to_owned()]))
        .collect();
    for member in &members {
        if let Some(list) = ids.get_mut(member.person_key.as_str()) {
            list.push(member.distinct_id.clone());
        }
    }
    for list in ids.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    let every_id: Vec<&str> = ids.values().flatten().map(String::as_str).collect();
    let properties = properties_of(store, project, &hashes).await?;
    let seen = seen(store, project, &every_id).await?;
    Ok(persons
        .iter()
        .map(|listed| {
            let time = |seconds: u32| {
                jiff::Timestamp::from_second(i64::from(seconds))
                    .map(|t| t.to_string())
                    .ok()
            };
            let seen = seen.iter().find(|s| s.person == listed.person);
            PersonView {
                id: contract::persons::person_id(project, &listed.person_key),
                distinct_ids: ids
                    .get(listed.person_key.as_str())
                    .cloned()
                    .unwrap_or_default(),
                properties: properties
                    .iter()
                    .filter(|p| p.person == listed.person)
                    .map(|p| (p.key.clone(), p.value.clone()))
                    .collect(),
                first_seen: seen.and_then(|s| time(s.first_seen)),
                last_seen: seen.and_then(|s| time(s.last_seen)),
            }
        })
        .collect())
}

/// The resolved properties of the persons `hashes`.
async fn properties_of(
    store: &Store,
    project: Uuid,
    hashes: &[u64],
) -> Result<Vec<Property>, Error> {
    let values = resolved(project, &[]);
    let text = format!(
        "SELECT person, key, value FROM ({}) WHERE person IN (SELECT arrayJoin(?))",
        values.sql
    );
    Ok(store
        .fetch_all(values.bind(store.query(&text)).bind(hashes.to_vec()))
        .await?)
}

/// The first and last event ever of the persons whose ids are `ids`.
async fn seen(store: &Store, project: Uuid, ids: &[&str]) -> Result<Vec<Seen>, Error> {
    let persons = join(project, None);
    let text = format!(
        "SELECT {PERSON} AS person, toUInt32(min(timestamp)) AS first_seen, \
           toUInt32(max(timestamp)) AS last_seen \
         FROM events{} WHERE project_id = toUUID(?) \
           AND user_hash IN (SELECT cityHash64(arrayJoin(?))) GROUP BY person",
        persons.sql
    );
    Ok(store
        .fetch_all(
            persons
                .bind(store.query(&text))
                .bind(project.to_string())
                .bind(ids.to_vec()),
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_canonical_id_it_was_made_of() {
        for key in ["user-1", "ünïcode ✓", "a_b%c"] {
            assert_eq!(parse_cursor(&cursor_of(key)).expect("reads"), key);
        }
        assert!(parse_cursor("zz").is_err());
        assert!(parse_cursor("abc").is_err());
        assert!(parse_cursor("ff").is_err(), "not UTF-8");
    }
}
