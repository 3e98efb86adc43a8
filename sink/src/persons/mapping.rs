//! Applying one identity link to `person_ids`. An id without a row is its own person (its
//! canonical id is itself). When the link's two ids are different persons, the person of
//! `distinct_id` survives and every id of the other person gets a row pointing to it, whose
//! `version` is the link's stream sequence.
//!
//! The link of sequence `s` reads the mapping as the links before it left it: only rows of a
//! `version` below `s`. Applied again (a redelivery, a sink that stalled past its `ack_wait`
//! while another applied it), it writes the same rows, or fewer of them: a background merge
//! may have replaced an id's older row by the one `s` wrote, and that id then looks unlinked,
//! yet its row of `s` is there already. A rebuild empties the table and applies every link
//! from the first, each seeing what the links before it wrote, so it gives the same table.
//! Persons only grow (every id of a person moves with it), which keeps the rows written at
//! `s` behind any later row of the same id. The canonical id of a person that has other ids
//! always has a row of its own, pointing to itself, which is how its members are found.

use std::collections::HashMap;

use contract::persons::{Link, person_id};
use serde::Serialize;
use uuid::Uuid;

/// One row of `person_ids`, in the column order of the table (`person_hash` is computed by
/// ClickHouse).
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize)]
pub(crate) struct PersonIdRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub(crate) project_id: Uuid,
    pub(crate) distinct_id: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub(crate) person_id: Uuid,
    pub(crate) person_key: String,
    pub(crate) version: u64,
    pub(crate) is_deleted: u8,
}

/// What applying a link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The two ids were one person already: nothing written.
    AlreadyOnePerson,
    /// The other person joined the identified one: this many rows written.
    Merged(usize),
}

/// Applies `link`, the message of stream sequence `sequence`, to `person_ids`.
pub(crate) async fn apply(
    clickhouse: &clickhouse::Client,
    link: &Link,
    sequence: u64,
) -> Result<Applied, clickhouse::error::Error> {
    if link.distinct_id == link.other_id {
        return Ok(Applied::AlreadyOnePerson);
    }
    let linked = persons_of(clickhouse, link, sequence).await?;
    let survivor = linked.get(&link.distinct_id).unwrap_or(&link.distinct_id);
    let merged = linked.get(&link.other_id).unwrap_or(&link.other_id);
    if survivor == merged {
        return Ok(Applied::AlreadyOnePerson);
    }
    let mut ids = if linked.contains_key(&link.other_id) {
        members(clickhouse, link.project_id, merged, sequence).await?
    } else {
        Vec::new()
    };
    ids.extend([merged.clone(), link.other_id.clone()]);
    if !linked.contains_key(&link.distinct_id) {
        // Linked for the first time: the survivor's own row, which says it has members.
        ids.push(link.distinct_id.clone());
    }
    let rows = rows_for(link.project_id, ids, survivor, sequence);
    let mut insert = clickhouse.insert::<PersonIdRow>("person_ids").await?;
    for row in &rows {
        insert.write(row).await?;
    }
    insert.end().await?;
    Ok(Applied::Merged(rows.len()))
}

/// The rows pointing `ids` (each once) to the person `person_key`, at `version`.
fn rows_for(
    project_id: Uuid,
    mut ids: Vec<String>,
    person_key: &str,
    version: u64,
) -> Vec<PersonIdRow> {
    ids.sort_unstable();
    ids.dedup();
    let person = person_id(project_id, person_key);
    ids.into_iter()
        .map(|distinct_id| PersonIdRow {
            project_id,
            distinct_id,
            person_id: person,
            person_key: person_key.to_owned(),
            version,
            is_deleted: 0,
        })
        .collect()
}

/// The person key of two ids (project, id, id, sequence), from the rows before the sequence.
const PERSONS_OF: &str = "SELECT distinct_id, argMax(person_key, version) FROM person_ids \
     WHERE project_id = ? AND distinct_id IN (?, ?) AND version < ? GROUP BY distinct_id";

/// Every id of a person (project, sequence, project, person key, person key), from the rows
/// before the sequence.
const MEMBERS: &str = "SELECT distinct_id FROM person_ids \
     WHERE project_id = ? AND version < ? AND distinct_id IN \
     (SELECT distinct_id FROM person_ids WHERE project_id = ? AND person_key = ?) \
     GROUP BY distinct_id HAVING argMax(person_key, version) = ? ORDER BY distinct_id";

/// The canonical id of each of the link's two ids that has a row before `sequence`.
async fn persons_of(
    clickhouse: &clickhouse::Client,
    link: &Link,
    sequence: u64,
) -> Result<HashMap<String, String>, clickhouse::error::Error> {
    let rows: Vec<(String, String)> = clickhouse
        .query(PERSONS_OF)
        .bind(link.project_id.to_string())
        .bind(link.distinct_id.as_str())
        .bind(link.other_id.as_str())
        .bind(sequence)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().collect())
}

/// Every id of the person `person_key` before `sequence`, itself included. Only ids that ever
/// pointed to it are aggregated; on a cluster the inner read stays on each shard (a distinct
/// id's rows are all on one), which `distributed_product_mode = 'local'` says.
pub(crate) async fn members(
    clickhouse: &clickhouse::Client,
    project_id: Uuid,
    person_key: &str,
    sequence: u64,
) -> Result<Vec<String>, clickhouse::error::Error> {
    let project = project_id.to_string();
    clickhouse
        .query(MEMBERS)
        .with_setting("distributed_product_mode", "local")
        .bind(project.as_str())
        .bind(sequence)
        .bind(project.as_str())
        .bind(person_key)
        .bind(person_key)
        .fetch_all()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sql` with its placeholders replaced, in order, by the SQL literals `values`.
    fn inline(sql: &str, values: &[&str]) -> String {
        let mut parts = sql.split('?');
        let mut text = parts.next().unwrap_or_default().to_owned();
        for (part, value) in parts.zip(values) {
            text.push_str(value);
            text.push_str(part);
        }
        text
    }

    /// The statements of the projection and the lookup on current ClickHouse (the sink's
    /// tests run them on 18.16 through the projection), with the answers the rules expect.
    #[test]
    fn the_projections_sql_runs_on_current_clickhouse() {
        let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
        for statement in crate::schema::statements("default").expect("schema") {
            chdb.query(&statement)
                .expect("the DDL runs on current ClickHouse");
        }
        let project = "'00000000-0000-0000-0000-000000000001'";
        // anon-1 joined user-1 (1); anon-3 joined user-2 (3); user-2's person joined user-1's (4).
        let rows = [
            ("anon-1", "user-1", 1),
            ("user-1", "user-1", 1),
            ("anon-3", "user-2", 3),
            ("user-2", "user-2", 3),
            ("anon-3", "user-1", 4),
            ("user-2", "user-1", 4),
        ]
        .map(|(id, key, version)| {
            format!("({project}, '{id}', generateUUIDv4(), '{key}', {version}, 0)")
        });
        // One insert per link, as the projection writes them, and no merge meanwhile: current
        // ClickHouse replaces within an inserted block, and merges, as 18.16 does only later.
        chdb.query("SYSTEM STOP MERGES default.person_ids")
            .expect("merges stopped");
        for link in rows.chunks(2) {
            chdb.query(&format!(
                "INSERT INTO default.person_ids (project_id, distinct_id, person_id, \
                 person_key, version, is_deleted) VALUES {}",
                link.join(", ")
            ))
            .expect("rows");
        }
        let run = |chdb: &mut devstack::chdb::Chdb, sql: &str, values: &[&str]| {
            let sql = inline(sql, values).replace("FROM person_ids", "FROM default.person_ids");
            let mut lines: Vec<String> = chdb
                .query(&sql)
                .unwrap_or_else(|err| panic!("{err}\n{sql}"))
                .lines()
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines.join("\n")
        };
        let two = [project, "'user-1'", "'anon-3'"];
        assert_eq!(
            run(&mut chdb, PERSONS_OF, &[&two[..], &["4"]].concat()),
            "anon-3\tuser-2\nuser-1\tuser-1",
            "before the link of sequence 4"
        );
        assert_eq!(
            run(&mut chdb, PERSONS_OF, &[&two[..], &["5"]].concat()),
            "anon-3\tuser-1\nuser-1\tuser-1"
        );
        let members = |sequence, key| [project, sequence, project, key, key];
        assert_eq!(
            run(&mut chdb, MEMBERS, &members("4", "'user-2'")),
            "anon-3\nuser-2"
        );
        assert_eq!(
            run(&mut chdb, MEMBERS, &members("5", "'user-1'")),
            "anon-1\nanon-3\nuser-1\nuser-2"
        );
        let lookup = crate::persons::lookup::lookup_sql(2);
        assert_eq!(
            run(&mut chdb, &lookup, &[project, "'anon-3'", "'nobody'"]),
            "anon-3\tuser-1"
        );
        assert_eq!(
            run(
                &mut chdb,
                "SELECT count(), countIf(person_hash = cityHash64(person_key)) FROM person_ids",
                &[]
            ),
            "6\t6",
            "person_hash is computed where rows are inserted"
        );
        chdb.query("TRUNCATE TABLE default.person_ids")
            .expect("a rebuild's TRUNCATE");
    }

    #[test]
    fn rows_point_every_id_once_to_the_survivor_at_the_links_sequence() {
        let project = Uuid::now_v7();
        let ids = ["anon-2", "anon-1", "anon-2"].map(str::to_owned).to_vec();
        let rows = rows_for(project, ids, "user-1", 7);
        let ids: Vec<_> = rows.iter().map(|row| row.distinct_id.as_str()).collect();
        assert_eq!(ids, ["anon-1", "anon-2"]);
        assert!(rows.iter().all(|row| {
            row.person_key == "user-1"
                && row.person_id == person_id(project, "user-1")
                && row.version == 7
                && row.is_deleted == 0
        }));
    }
}
