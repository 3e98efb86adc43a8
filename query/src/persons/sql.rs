//! Who an event's person is, in SQL. The sink keeps `person_ids` (a row per linked distinct id,
//! the latest `version` saying which person it belongs to) and `person_properties` (a row per
//! key an event set); queries resolve ids at read time, so events stored before a merge count
//! for the merged person. An id without a row is its own person, whose hash is the events'
//! `user_hash`; a linked id's person hash is `cityHash64` of the person's canonical id, which is
//! that id's `user_hash` too.
//!
//! Every statement joins `events` with at most one of these (ClickHouse 18.16 allows one JOIN
//! per SELECT): [`links`] where only the person is needed, [`values_by_id`] where their
//! properties are too. On a cluster, the links of a distinct id sit on the shard of its
//! events (both tables are sharded by the id's hash), so that join reads each shard's own
//! `person_ids` (`distributed_product_mode = 'local'`); a person's properties come from all
//! their ids, on any shard, so that join is `GLOBAL` (computed once, sent to the shards).

use uuid::Uuid;

/// The person an event counts for, once [`join`] is in the statement.
pub(crate) const PERSON: &str = "if(linked_hash = 0, user_hash, linked_hash)";

/// A linked id's person's hash from its rows of `person_ids`: that of its latest row, 0 when
/// that row erased it.
macro_rules! linked_hash {
    () => {
        "argMax(if(is_deleted = 1, toUInt64(0), person_hash), version)"
    };
}

/// What says whether rows of `person_ids` changed: `rows` counted, the latest link's version
/// (`latest_version`: the sequence on `PERSONS` of the link that wrote the row) and a
/// `fingerprint` of every row, summed. A link added moves all three, an erasure's delete or a
/// merge the count, and a row written again differently (`sink rebuild-persons` after a fix)
/// the fingerprint. No alias is a column's name, which the statement's other expressions read.
macro_rules! links_state {
    () => {
        "toUInt64(count()) AS rows, max(version) AS latest_version, \
         sum(cityHash64(distinct_id, person_hash, version, is_deleted)) AS fingerprint"
    };
}

/// Per linked distinct id, by its hash (`user_hash`): its person's hash (`linked_hash`; 0 when
/// its latest row erased it). Binds the project.
const LINKS: &str = concat!(
    "SELECT cityHash64(distinct_id) AS user_hash, ",
    linked_hash!(),
    " AS linked_hash FROM person_ids WHERE project_id = toUUID(?) GROUP BY user_hash"
);

/// [`LINKS`] with the [`LINKS_STATE`] of each id's rows, which add up (the count and the
/// fingerprint summed, the version the greatest) to that of the project's. Binds the project.
pub(crate) const KEPT_LINKS: &str = concat!(
    "SELECT cityHash64(distinct_id) AS user_hash, ",
    linked_hash!(),
    " AS linked_hash, ",
    links_state!(),
    " FROM person_ids WHERE project_id = toUUID(?) GROUP BY user_hash"
);

/// The state of a project's links, as `links_state!` says. Binds the project.
pub(crate) const LINKS_STATE: &str = concat!(
    "SELECT ",
    links_state!(),
    " FROM person_ids WHERE project_id = toUUID(?)"
);

/// Per distinct id that has ever been linked (its text, not its hash): its person's hash
/// (`linked_hash`, 0 when erased) and canonical id (`linked_key`). Binds the project.
pub(crate) const MEMBERS: &str = concat!(
    "SELECT distinct_id, ",
    linked_hash!(),
    " AS linked_hash, argMax(person_key, version) AS linked_key \
     FROM person_ids WHERE project_id = toUUID(?) GROUP BY distinct_id"
);

/// A person's value of a key from its rows: the latest `$set` value, else the first
/// `$set_once` one (ties broken by the event id, so every server answers the same).
const RESOLVED_VALUE: &str = "if(countIf(set_once = 0) > 0, \
     argMaxIf(value, (timestamp, event_id), set_once = 0), \
     argMinIf(value, (timestamp, event_id), set_once = 1))";

/// Some SQL and the values of its `?`, in order; every value is text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub(crate) sql: String,
    pub(crate) binds: Vec<String>,
}

impl Fragment {
    /// Binds [`Self::binds`] to the next placeholders of `query`.
    pub(crate) fn bind(&self, mut query: clickhouse::query::Query) -> clickhouse::query::Query {
        for value in &self.binds {
            query = query.bind(value.as_str());
        }
        query
    }
}

/// [`LINKS`] of `project`.
pub(crate) fn links(project: Uuid) -> Fragment {
    Fragment {
        sql: LINKS.to_owned(),
        binds: vec![project.to_string()],
    }
}

/// ` AND key IN (…)` for `keys` (nothing when empty: every key), with its binds.
fn key_condition(keys: &[&str]) -> (String, Vec<String>) {
    if keys.is_empty() {
        return (String::new(), Vec::new());
    }
    let marks = plumbing::clickhouse::placeholders(keys.len());
    (
        format!(" AND key IN ({marks})"),
        keys.iter().map(|key| (*key).to_owned()).collect(),
    )
}

/// Per person (by hash) and key of `keys` (every key when empty) it has: `person`, `key` and
/// its resolved `value`.
pub(crate) fn resolved(project: Uuid, keys: &[&str]) -> Fragment {
    let (condition, key_binds) = key_condition(keys);
    let sql = format!(
        "SELECT person, key, {RESOLVED_VALUE} AS value FROM ( \
           SELECT {PERSON} AS person, key, value, timestamp, event_id, set_once FROM ( \
             SELECT cityHash64(distinct_id) AS user_hash, key, value, timestamp, event_id, set_once \
             FROM person_properties WHERE project_id = toUUID(?){condition}) AS properties \
           ANY LEFT JOIN ({LINKS}) AS links USING user_hash) \
         GROUP BY person, key"
    );
    let mut binds = vec![project.to_string()];
    binds.extend(key_binds);
    binds.push(project.to_string());
    Fragment { sql, binds }
}

/// Per distinct id (by hash) that is linked or has one of `keys`: `user_hash`, `linked_hash`
/// as in [`LINKS`], and its person's values of `keys` as `person_keys` and `person_values`
/// (parallel arrays, as the events' properties are). An id in neither table has no row: its
/// person is itself, without properties.
pub(crate) fn values_by_id(project: Uuid, keys: &[&str]) -> Fragment {
    let (condition, key_binds) = key_condition(keys);
    let values = resolved(project, keys);
    let sql = format!(
        "SELECT user_hash, linked_hash, person_keys, person_values FROM ( \
           SELECT user_hash, linked_hash, {PERSON} AS person FROM ( \
             SELECT user_hash, max(linked_hash) AS linked_hash FROM ( \
               SELECT user_hash, linked_hash FROM ({LINKS}) \
               UNION ALL \
               SELECT cityHash64(distinct_id) AS user_hash, toUInt64(0) AS linked_hash \
               FROM person_properties WHERE project_id = toUUID(?){condition} GROUP BY user_hash) \
             GROUP BY user_hash)) AS ids \
         ANY LEFT JOIN ( \
           SELECT person, groupArray(key) AS person_keys, groupArray(value) AS person_values \
           FROM ({}) GROUP BY person) AS resolved USING person",
        values.sql
    );
    let mut binds = vec![project.to_string(), project.to_string()];
    binds.extend(key_binds);
    binds.extend(values.binds);
    Fragment { sql, binds }
}

/// What follows `FROM events` for [`PERSON`] to be known, and with `key`, the person's value
/// of it as `person_values[indexOf(person_keys, ?)]`.
pub(crate) fn join(project: Uuid, key: Option<&str>) -> Fragment {
    let (global, source) = match key {
        None => ("", links(project)),
        Some(key) => ("GLOBAL ", values_by_id(project, &[key])),
    };
    Fragment {
        sql: format!(
            " {global}ANY LEFT JOIN ({}) AS persons USING user_hash",
            source.sql
        ),
        binds: source.binds,
    }
}

/// The condition on an event that its person's value of `key` meets `condition` (SQL over
/// `person_keys` and `person_values`, whose own binds follow these). An id with neither links
/// nor properties has no value: `unset_matches` says whether such a person meets it, so the
/// condition is a membership test on the ids that do (or, if unset matches, on those that do
/// not). `GLOBAL`: the set is computed once, from every shard's rows.
pub(crate) fn person_condition(
    project: Uuid,
    key: &str,
    condition: &str,
    unset_matches: bool,
) -> Fragment {
    let values = values_by_id(project, &[key]);
    let sql = if unset_matches {
        format!(
            "user_hash GLOBAL NOT IN (SELECT user_hash FROM ({}) WHERE NOT ({condition}))",
            values.sql
        )
    } else {
        format!(
            "user_hash GLOBAL IN (SELECT user_hash FROM ({}) WHERE {condition})",
            values.sql
        )
    };
    Fragment {
        sql,
        binds: values.binds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fragment_binds_as_many_values_as_it_has_placeholders() {
        let project = Uuid::nil();
        for fragment in [
            links(project),
            resolved(project, &[]),
            resolved(project, &["plan", "$email"]),
            values_by_id(project, &["plan"]),
            join(project, None),
            join(project, Some("plan")),
            person_condition(project, "plan", "1", false),
        ] {
            assert_eq!(
                fragment.sql.matches('?').count(),
                fragment.binds.len(),
                "{}",
                fragment.sql
            );
        }
        assert!(
            join(project, None)
                .sql
                .starts_with(" ANY LEFT JOIN (SELECT")
        );
        assert!(
            join(project, Some("plan"))
                .sql
                .starts_with(" GLOBAL ANY LEFT JOIN")
        );
        assert!(!resolved(project, &[]).sql.contains("key IN"));
    }
}
