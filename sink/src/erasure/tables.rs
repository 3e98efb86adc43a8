//! An erasure in ClickHouse: which ids the person has (`person_ids`), marking them erased
//! there, and deleting every row of theirs with `ALTER TABLE … DELETE` (a mutation: ClickHouse
//! 18.16 has no `mutations_sync`, so the erasure waits on `system.mutations` until every
//! mutation of the tables is done). On a cluster the mutations run on every shard's `_local`
//! table (`ON CLUSTER`) and are followed through `cluster()`.

use std::time::Duration;

use uuid::Uuid;

use crate::persons::mapping::PersonIdRow;
use crate::schema::Layout;

/// The tables holding rows of a distinct id (in `distinct_id`), emptied together; then
/// `person_ids`, last, since it is how a resumed erasure finds the person's ids again.
/// `sessions` is emptied with them, by the sessions of the person's events.
pub const BY_DISTINCT_ID: [&str; 2] = ["events", "person_properties"];

/// How many times the rows are deleted before the erasure gives up for now: an insert the
/// sink began before the ids were recorded as erased may land after the first delete.
const ROUNDS: usize = 3;

/// Ids per statement: well under ClickHouse's default `max_query_size` (256 KiB).
const CHUNK: usize = 1_000;

/// How long the mutations of one erasure may take before it is tried again.
const MUTATIONS_DEADLINE: Duration = Duration::from_secs(600);

/// ClickHouse as an erasure sees it.
#[derive(Clone)]
pub(crate) struct Tables {
    /// A client on the events database (the `Distributed` tables on a cluster).
    pub(crate) clickhouse: clickhouse::Client,
    pub(crate) layout: Layout,
}

impl Tables {
    /// Every id of the person `distinct_id` of `project` belongs to, as the links before
    /// stream sequence `before` made it (so a resumed erasure finds the same ids, and not
    /// its own marks), the id itself included; sorted.
    pub(crate) async fn person_ids(
        &self,
        project: Uuid,
        distinct_id: &str,
        before: u64,
    ) -> Result<(String, Vec<String>), clickhouse::error::Error> {
        let project_text = project.to_string();
        let keys: Vec<String> = self
            .clickhouse
            .query(
                "SELECT argMax(person_key, version) FROM person_ids \
                 WHERE project_id = ? AND distinct_id = ? AND version < ? GROUP BY distinct_id",
            )
            .bind(project_text.as_str())
            .bind(distinct_id)
            .bind(before)
            .fetch_all()
            .await?;
        let Some(person_key) = keys.into_iter().next() else {
            return Ok((distinct_id.to_owned(), vec![distinct_id.to_owned()]));
        };
        let mut ids: Vec<String> = self
            .clickhouse
            .query(
                "SELECT distinct_id FROM person_ids \
                 WHERE project_id = ? AND version < ? AND distinct_id IN \
                 (SELECT distinct_id FROM person_ids WHERE project_id = ? AND person_key = ?) \
                 GROUP BY distinct_id HAVING argMax(person_key, version) = ?",
            )
            .with_setting("distributed_product_mode", "local")
            .bind(project_text.as_str())
            .bind(before)
            .bind(project_text.as_str())
            .bind(person_key.as_str())
            .bind(person_key.as_str())
            .fetch_all()
            .await?;
        ids.push(distinct_id.to_owned());
        ids.sort_unstable();
        ids.dedup();
        Ok((person_key, ids))
    }

    /// Marks `ids` erased in `person_ids` at `version` (the erasure's stream sequence, after
    /// every link before it), so that reads see them gone before the mutations are done.
    pub(crate) async fn mark_erased(
        &self,
        project: Uuid,
        person_key: &str,
        ids: &[String],
        version: u64,
    ) -> Result<(), clickhouse::error::Error> {
        let person_id = contract::persons::person_id(project, person_key);
        let mut insert = self.clickhouse.insert::<PersonIdRow>("person_ids").await?;
        for id in ids {
            insert
                .write(&PersonIdRow {
                    project_id: project,
                    distinct_id: id.clone(),
                    person_id,
                    person_key: person_key.to_owned(),
                    version,
                    is_deleted: 1,
                })
                .await?;
        }
        insert.end().await
    }

    /// Deletes every row of `ids` of `project`: from `sessions` (the sessions of their
    /// events), `events` and `person_properties` until none is left, then from `person_ids`;
    /// each time waiting until ClickHouse has done it.
    pub(crate) async fn erase_rows(&self, project: Uuid, ids: &[String]) -> anyhow::Result<()> {
        let names: Vec<String> = self
            .clickhouse
            .query("SELECT name FROM system.tables WHERE database = ?")
            .bind(self.layout.database())
            .fetch_all()
            .await?;
        let has = |table: &str| names.iter().any(|name| name == table);
        for round in 1..=ROUNDS {
            let mut mutated = Vec::new();
            if has("sessions") {
                let sessions = self.session_ids(project, ids).await?;
                self.delete_sessions(project, ids, &sessions).await?;
                mutated.push("sessions");
            }
            for table in BY_DISTINCT_ID.into_iter().filter(|table| has(table)) {
                self.delete(table, project, ids).await?;
                mutated.push(table);
            }
            self.wait_for_mutations(&mutated).await?;
            let mut left = 0;
            for table in BY_DISTINCT_ID.into_iter().filter(|table| has(table)) {
                left += self.remaining(table, project, ids).await?;
            }
            if left == 0 {
                break;
            }
            anyhow::ensure!(round < ROUNDS, "{left} rows of the person are left");
        }
        self.delete("person_ids", project, ids).await?;
        self.wait_for_mutations(&["person_ids"]).await
    }

    /// The sessions of the events of `ids` of `project`.
    async fn session_ids(
        &self,
        project: Uuid,
        ids: &[String],
    ) -> Result<Vec<String>, clickhouse::error::Error> {
        let mut sessions = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT DISTINCT session_id FROM events \
                 WHERE project_id = ? AND distinct_id IN ({}) AND session_id != ''",
                placeholders(chunk.len())
            );
            sessions.extend(
                bind_ids(self.clickhouse.query(&sql), project, chunk)
                    .fetch_all::<String>()
                    .await?,
            );
        }
        Ok(sessions)
    }

    /// Deletes the sessions `sessions` of `project`, and those the sink made up for events of
    /// `ids` stored before sessions existed (`legacy-<hash of project and id>-<n>`).
    async fn delete_sessions(
        &self,
        project: Uuid,
        ids: &[String],
        sessions: &[String],
    ) -> Result<(), clickhouse::error::Error> {
        for chunk in sessions.chunks(CHUNK) {
            let sql = sessions_delete_sql(&self.layout, chunk.len(), 0);
            let mut query = self.clickhouse.query(&sql).bind(project.to_string());
            for session in chunk {
                query = query.bind(session.as_str());
            }
            query.execute().await?;
        }
        for chunk in ids.chunks(CHUNK) {
            let sql = sessions_delete_sql(&self.layout, 0, chunk.len());
            bind_ids(self.clickhouse.query(&sql), project, chunk)
                .execute()
                .await?;
        }
        Ok(())
    }

    /// Deletes the rows of `ids` of `project` from `table` (a mutation ClickHouse runs in the
    /// background: see [`Self::wait_for_mutations`]).
    async fn delete(
        &self,
        table: &str,
        project: Uuid,
        ids: &[String],
    ) -> Result<(), clickhouse::error::Error> {
        for chunk in ids.chunks(CHUNK) {
            let sql = delete_sql(&self.layout, table, chunk.len());
            bind_ids(self.clickhouse.query(&sql), project, chunk)
                .execute()
                .await?;
        }
        Ok(())
    }

    /// Waits until no mutation of `tables` is left undone, for at most
    /// [`MUTATIONS_DEADLINE`].
    async fn wait_for_mutations(&self, tables: &[&str]) -> anyhow::Result<()> {
        let storage: Vec<String> = tables.iter().map(|table| self.storage(table)).collect();
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let sql = mutations_sql(&self.layout, storage.len());
            let mut query = self.clickhouse.query(&sql).bind(self.layout.database());
            for table in &storage {
                query = query.bind(table.as_str());
            }
            let undone: u64 = query.fetch_one().await?;
            if undone == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < MUTATIONS_DEADLINE,
                "{undone} mutations of {tables:?} not done after {} s",
                MUTATIONS_DEADLINE.as_secs()
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// How many rows of `ids` of `project` `table` still holds.
    async fn remaining(
        &self,
        table: &str,
        project: Uuid,
        ids: &[String],
    ) -> Result<u64, clickhouse::error::Error> {
        let mut rows = 0;
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT count() FROM {table} WHERE project_id = ? AND distinct_id IN ({})",
                placeholders(chunk.len())
            );
            rows += bind_ids(self.clickhouse.query(&sql), project, chunk)
                .fetch_one::<u64>()
                .await?;
        }
        Ok(rows)
    }

    /// The table holding `table`'s rows: itself, or each shard's `<table>_local`.
    fn storage(&self, table: &str) -> String {
        match self.layout.cluster() {
            Some(_) => format!("{table}_local"),
            None => table.to_owned(),
        }
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn bind_ids(
    mut query: clickhouse::query::Query,
    project: Uuid,
    ids: &[String],
) -> clickhouse::query::Query {
    query = query.bind(project.to_string());
    for id in ids {
        query = query.bind(id.as_str());
    }
    query
}

/// The table holding `table`'s rows in `layout`, with its database and, on a cluster, the
/// clause that runs a statement on every shard.
fn storage_of(layout: &Layout, table: &str) -> String {
    match layout.cluster() {
        Some(_) => format!("{}.{table}_local{}", layout.database(), layout.on_cluster()),
        None => format!("{}.{table}", layout.database()),
    }
}

/// `ALTER TABLE … DELETE` of `ids` (this many placeholders) of a project from `table`.
fn delete_sql(layout: &Layout, table: &str, ids: usize) -> String {
    format!(
        "ALTER TABLE {} DELETE WHERE project_id = ? AND distinct_id IN ({})",
        storage_of(layout, table),
        placeholders(ids)
    )
}

/// `ALTER TABLE … DELETE` of a project's sessions: this many session ids, or the made-up
/// sessions of this many distinct ids.
fn sessions_delete_sql(layout: &Layout, sessions: usize, ids: usize) -> String {
    let legacy =
        "startsWith(session_id, concat('legacy-', hex(cityHash64(toString(project_id), ?)), '-'))";
    let condition = if sessions > 0 {
        format!("session_id IN ({})", placeholders(sessions))
    } else {
        vec![legacy; ids].join(" OR ")
    };
    format!(
        "ALTER TABLE {} DELETE WHERE project_id = ? AND ({condition})",
        storage_of(layout, "sessions")
    )
}

/// The mutations of some tables (this many placeholders after the database) not done yet;
/// on a cluster, of one replica of every shard.
fn mutations_sql(layout: &Layout, tables: usize) -> String {
    let from = match layout.cluster() {
        Some(cluster) => format!("cluster('{cluster}', system, mutations)"),
        None => "system.mutations".to_owned(),
    };
    format!(
        "SELECT count() FROM {from} WHERE database = ? AND table IN ({}) AND is_done = 0",
        placeholders(tables)
    )
}

/// The statements an erasure of `ids` of `project` with `sessions` runs (values bound), for
/// checking them on other ClickHouse versions: what it reads, the deletes, and the check of
/// their mutations.
pub fn statements(
    layout: &Layout,
    project: Uuid,
    ids: &[String],
    sessions: &[String],
) -> Vec<String> {
    let client = clickhouse::Client::default();
    let shown = |query: clickhouse::query::Query| query.sql_display().to_string();
    let in_db = |sql: String| {
        sql.replace(
            " FROM events ",
            &format!(" FROM {}.events ", layout.database()),
        )
    };
    let mut statements = vec![
        in_db(format!(
            "SELECT DISTINCT session_id FROM events \
             WHERE project_id = ? AND distinct_id IN ({}) AND session_id != ''",
            placeholders(ids.len())
        )),
        sessions_delete_sql(layout, 0, ids.len()),
    ]
    .into_iter()
    .map(|sql| shown(bind_ids(client.query(&sql), project, ids)))
    .collect::<Vec<_>>();
    let mut by_session = client
        .query(&sessions_delete_sql(layout, sessions.len(), 0))
        .bind(project.to_string());
    for session in sessions {
        by_session = by_session.bind(session.as_str());
    }
    statements.push(shown(by_session));
    for table in BY_DISTINCT_ID.into_iter().chain(["person_ids"]) {
        let left = format!(
            "SELECT count() FROM {}.{table} WHERE project_id = ? AND distinct_id IN ({})",
            layout.database(),
            placeholders(ids.len())
        );
        statements.push(shown(bind_ids(client.query(&left), project, ids)));
        let delete = delete_sql(layout, table, ids.len());
        statements.push(shown(bind_ids(client.query(&delete), project, ids)));
    }
    let mut mutations = client
        .query(&mutations_sql(layout, 2))
        .bind(layout.database());
    for table in ["events", "sessions"] {
        mutations = mutations.bind(table);
    }
    statements.push(shown(mutations));
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
            "ALTER TABLE analytics.events DELETE WHERE project_id = ? AND distinct_id IN (?, ?)"
        );
        let cluster = Layout::new("analytics", Some("c")).expect("layout");
        assert_eq!(
            delete_sql(&cluster, "events", 1),
            "ALTER TABLE analytics.events_local ON CLUSTER c DELETE WHERE project_id = ? \
             AND distinct_id IN (?)"
        );
        assert!(mutations_sql(&cluster, 1).contains("cluster('c', system, mutations)"));
    }
}
