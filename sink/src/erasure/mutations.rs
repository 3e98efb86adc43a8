//! The statements of an erasure in ClickHouse, as text: the `ALTER TABLE … DELETE`s and the
//! look at `system.mutations` that finds them again.
//!
//! Every delete carries a tag, a hash of the statement and its values, as a condition that is
//! always true (`AND 'erasure-…' != ''`): `system.mutations` keeps a mutation's command as
//! text (`database`, `table`, `mutation_id`, `command`, `create_time`, `is_done` on ClickHouse
//! 18.16 as on current ClickHouse), so the tag finds the erasure's own mutations among the
//! others of a table, and a delete still pending from an earlier try of the same erasure.

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::schema::Layout;
use crate::schema::event_days::BUMP_DAYS;

/// The tables holding rows of a distinct id (in `distinct_id`), emptied together; then
/// `person_ids`, last, since it is how a resumed erasure finds the person's ids again.
/// `sessions` is emptied with them, by the sessions of the person's events.
pub(crate) const BY_DISTINCT_ID: [&str; 3] = ["events", "engagement", "person_properties"];

pub(crate) use plumbing::clickhouse::placeholders;

/// The values a statement of `ids` of `project` binds, in order.
pub(crate) fn values_of(project: Uuid, ids: &[String]) -> Vec<String> {
    std::iter::once(project.to_string())
        .chain(ids.iter().cloned())
        .collect()
}

/// `query` with `values` bound.
pub(crate) fn bound(
    mut query: clickhouse::query::Query,
    values: &[String],
) -> clickhouse::query::Query {
    for value in values {
        query = query.bind(value.as_str());
    }
    query
}

/// The tag of a delete: `erasure-` and a hash of its text and values. The same delete has the
/// same tag every time; two different ones (another table, project, id) differ.
pub(crate) fn tag_of(sql: &str, values: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(sql.as_bytes());
    for value in values {
        hash.update([0]);
        hash.update(value.as_bytes());
    }
    let hex: String = hash.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("erasure-{hex}")
}

/// The table holding `table`'s rows in `layout`, with its database and, on a cluster, the
/// clause that runs a statement on every shard.
pub(crate) fn storage_of(layout: &Layout, table: &str) -> String {
    match layout.cluster() {
        Some(_) => format!("{}.{table}_local{}", layout.database(), layout.on_cluster()),
        None => format!("{}.{table}", layout.database()),
    }
}

/// `ALTER TABLE … DELETE` of `ids` (this many placeholders) of a project from `table`, the
/// tag bound last.
pub(crate) fn delete_sql(layout: &Layout, table: &str, ids: usize) -> String {
    format!(
        "ALTER TABLE {} DELETE WHERE project_id = ? AND distinct_id IN ({}) AND ? != ''",
        storage_of(layout, table),
        placeholders(ids)
    )
}

/// `ALTER TABLE … DELETE` of a project's sessions: this many session ids, or the made-up
/// sessions of this many distinct ids; the tag bound last.
pub(crate) fn sessions_delete_sql(layout: &Layout, sessions: usize, ids: usize) -> String {
    let legacy =
        "startsWith(session_id, concat('legacy-', hex(cityHash64(toString(project_id), ?)), '-'))";
    let condition = if sessions > 0 {
        format!("session_id IN ({})", placeholders(sessions))
    } else {
        vec![legacy; ids].join(" OR ")
    };
    format!(
        "ALTER TABLE {} DELETE WHERE project_id = ? AND ({condition}) AND ? != ''",
        storage_of(layout, "sessions")
    )
}

/// How many of some mutations are not done yet: the database, then a table and a tag for each
/// of `mutations` are bound. On a cluster, of one replica of every shard.
pub(crate) fn mutations_sql(layout: &Layout, mutations: usize) -> String {
    let from = match layout.cluster() {
        Some(cluster) => format!("cluster('{cluster}', system, mutations)"),
        None => "system.mutations".to_owned(),
    };
    let each = vec!["(table = ? AND position(command, ?) > 0)"; mutations.max(1)].join(" OR ");
    format!("SELECT count() FROM {from} WHERE database = ? AND is_done = 0 AND ({each})")
}

/// The statements an erasure of `ids` of `project` with `sessions` runs (values bound), for
/// checking them on other ClickHouse versions: what it reads, the deletes, the check of their
/// mutations, and the bump of the project's days.
pub fn statements(
    layout: &Layout,
    project: Uuid,
    ids: &[String],
    sessions: &[String],
) -> Vec<String> {
    let client = clickhouse::Client::default();
    let by_ids = values_of(project, ids);
    let by_sessions = values_of(project, sessions);
    let shown =
        |sql: &str, values: &[String]| bound(client.query(sql), values).sql_display().to_string();
    let tagged = |sql: &str, values: &[String]| {
        let mut with_tag = values.to_vec();
        with_tag.push(tag_of(sql, values));
        shown(sql, &with_tag)
    };
    let mut statements = vec![
        shown(
            &format!(
                "SELECT DISTINCT session_id FROM {}.events \
                 WHERE project_id = ? AND distinct_id IN ({}) AND session_id != ''",
                layout.database(),
                placeholders(ids.len())
            ),
            &by_ids,
        ),
        tagged(&sessions_delete_sql(layout, 0, ids.len()), &by_ids),
        tagged(
            &sessions_delete_sql(layout, sessions.len(), 0),
            &by_sessions,
        ),
    ];
    for table in BY_DISTINCT_ID.into_iter().chain(["person_ids"]) {
        let left = format!(
            "SELECT count() FROM {}.{table} WHERE project_id = ? AND distinct_id IN ({})",
            layout.database(),
            placeholders(ids.len())
        );
        statements.push(shown(&left, &by_ids));
        statements.push(tagged(&delete_sql(layout, table, ids.len()), &by_ids));
    }
    let delete = delete_sql(layout, "events", ids.len());
    let check = [
        layout.database().to_owned(),
        "events".to_owned(),
        tag_of(&delete, &by_ids),
        "sessions".to_owned(),
        "erasure-none".to_owned(),
    ];
    statements.push(shown(&mutations_sql(layout, 2), &check));
    statements.push(shown(&layout.fill(BUMP_DAYS), &values_of(project, &[])));
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deletes_reach_every_shard_on_a_cluster() {
        let one = Layout::new("analytics", None).expect("layout");
        assert_eq!(
            delete_sql(&one, "events", 2),
            "ALTER TABLE analytics.events DELETE WHERE project_id = ? AND distinct_id IN (?, ?) \
             AND ? != ''"
        );
        let cluster = Layout::new("analytics", Some("c")).expect("layout");
        assert_eq!(
            delete_sql(&cluster, "events", 1),
            "ALTER TABLE analytics.events_local ON CLUSTER c DELETE WHERE project_id = ? \
             AND distinct_id IN (?) AND ? != ''"
        );
        assert!(mutations_sql(&cluster, 1).contains("cluster('c', system, mutations)"));
    }

    #[test]
    fn the_wait_is_on_the_erasures_own_mutations_each_found_by_its_tag() {
        let one = Layout::new("analytics", None).expect("layout");
        assert_eq!(
            mutations_sql(&one, 2),
            "SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0 AND \
             ((table = ? AND position(command, ?) > 0) OR (table = ? AND position(command, ?) > 0))"
        );
        let project = Uuid::now_v7();
        let sql = delete_sql(&one, "events", 1);
        let values = values_of(project, &["user-1".to_owned()]);
        let tag = tag_of(&sql, &values);
        assert_eq!(tag, tag_of(&sql, &values), "the same delete, the same tag");
        assert_ne!(
            tag,
            tag_of(&sql, &values_of(project, &["user-2".to_owned()]))
        );
        assert_ne!(tag, tag_of(&delete_sql(&one, "person_ids", 1), &values));
        assert!(!tag.contains("user-1"));
    }
}
