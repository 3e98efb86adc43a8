//! An erasure in ClickHouse: which ids the person has (`person_ids`), marking them erased
//! there, and deleting every row of theirs with `ALTER TABLE … DELETE` (a mutation: ClickHouse
//! 18.16 has no `mutations_sync`, so the erasure waits on `system.mutations` until its own
//! mutations are done, found by their tags: see [`super::mutations`]; a delete still pending
//! from an earlier try is waited for, not issued again). On a cluster the mutations run on
//! every shard's `_local` table (`ON CLUSTER`) and are followed through `cluster()`. Once the
//! rows are gone, every day of the project counts one more change in `event_days`.

use std::time::Duration;

use uuid::Uuid;

use crate::erasure::mutations::{
    BY_DISTINCT_ID, bound, delete_sql, mutations_sql, placeholders, sessions_delete_sql, tag_of,
    values_of,
};
use crate::persons::mapping::PersonIdRow;
use crate::schema::Layout;
use crate::schema::event_days::BUMP_DAYS;

/// How many times the rows are deleted before the erasure gives up for now: an insert the
/// sink began before the ids were recorded as erased may land after the first delete.
const ROUNDS: usize = 3;

/// Ids per statement: well under ClickHouse's default `max_query_size` (256 KiB).
const CHUNK: usize = 1_000;

/// How long the mutations of one erasure may take before it is tried again (and waited for
/// again, not issued again).
const MUTATIONS_DEADLINE: Duration = Duration::from_secs(600);

/// A delete an erasure issued: the table holding the rows, and the tag its command carries.
#[derive(Debug)]
pub(crate) struct Mutation {
    table: String,
    tag: String,
}

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
        let mut ids =
            crate::persons::mapping::members(&self.clickhouse, project, &person_key, before)
                .await?;
        ids.push(distinct_id.to_owned());
        ids.sort_unstable();
        ids.dedup();
        Ok((person_key, ids))
    }

    /// Marks `ids` erased in `person_ids` at `version` (the erasure's stream sequence, after
    /// every link before it), so that reads no longer join them to the person before the
    /// mutations are done (each id counts as one of its own until its rows are deleted).
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
    /// each time waiting until ClickHouse has done it. Between the two, bumps every day of the
    /// project in `event_days`, as a delete passes no view (a crash before it resumes the
    /// erasure, which bumps then).
    pub(crate) async fn erase_rows(&self, project: Uuid, ids: &[String]) -> anyhow::Result<()> {
        let names: Vec<String> = self
            .clickhouse
            .query("SELECT name FROM system.tables WHERE database = ?")
            .bind(self.layout.database())
            .fetch_all()
            .await?;
        let has = |table: &str| names.iter().any(|name| name == table);
        for round in 1..=ROUNDS {
            let mut mutations = Vec::new();
            if has("sessions") {
                let sessions = self.session_ids(project, ids).await?;
                mutations.extend(self.delete_sessions(project, ids, &sessions).await?);
            }
            for table in BY_DISTINCT_ID.into_iter().filter(|table| has(table)) {
                mutations.extend(self.delete(table, project, ids).await?);
            }
            self.wait_for(&mutations).await?;
            let mut left = 0;
            for table in BY_DISTINCT_ID.into_iter().filter(|table| has(table)) {
                left += self.remaining(table, project, ids).await?;
            }
            if left == 0 {
                break;
            }
            anyhow::ensure!(round < ROUNDS, "{left} rows of the person are left");
        }
        if has("event_days") {
            self.clickhouse
                .query(&self.layout.fill(BUMP_DAYS))
                .bind(project.to_string())
                .execute()
                .await?;
        }
        let mutations = self.delete("person_ids", project, ids).await?;
        self.wait_for(&mutations).await
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
                bound(self.clickhouse.query(&sql), &values_of(project, chunk))
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
    ) -> Result<Vec<Mutation>, clickhouse::error::Error> {
        let mut mutations = Vec::new();
        for chunk in sessions.chunks(CHUNK) {
            let sql = sessions_delete_sql(&self.layout, chunk.len(), 0);
            mutations.push(
                self.mutate("sessions", &sql, values_of(project, chunk))
                    .await?,
            );
        }
        for chunk in ids.chunks(CHUNK) {
            let sql = sessions_delete_sql(&self.layout, 0, chunk.len());
            mutations.push(
                self.mutate("sessions", &sql, values_of(project, chunk))
                    .await?,
            );
        }
        Ok(mutations)
    }

    /// Deletes the rows of `ids` of `project` from `table` (a mutation ClickHouse runs in the
    /// background: see [`Self::wait_for`]).
    async fn delete(
        &self,
        table: &str,
        project: Uuid,
        ids: &[String],
    ) -> Result<Vec<Mutation>, clickhouse::error::Error> {
        let mut mutations = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = delete_sql(&self.layout, table, chunk.len());
            mutations.push(self.mutate(table, &sql, values_of(project, chunk)).await?);
        }
        Ok(mutations)
    }

    /// Issues the delete `sql` of `table` with `values` and its tag, unless the same delete is
    /// still pending (from an earlier try of this erasure); returns the mutation to wait for.
    pub(crate) async fn mutate(
        &self,
        table: &str,
        sql: &str,
        mut values: Vec<String>,
    ) -> Result<Mutation, clickhouse::error::Error> {
        let mutation = Mutation {
            table: self.storage(table),
            tag: tag_of(sql, &values),
        };
        if self.undone(std::slice::from_ref(&mutation)).await? == 0 {
            values.push(mutation.tag.clone());
            bound(self.clickhouse.query(sql), &values).execute().await?;
        }
        Ok(mutation)
    }

    /// How many of `mutations` are not done yet.
    async fn undone(&self, mutations: &[Mutation]) -> Result<u64, clickhouse::error::Error> {
        let mut values = vec![self.layout.database().to_owned()];
        for mutation in mutations {
            values.extend([mutation.table.clone(), mutation.tag.clone()]);
        }
        let sql = mutations_sql(&self.layout, mutations.len());
        bound(self.clickhouse.query(&sql), &values)
            .fetch_one()
            .await
    }

    /// Waits until `mutations` are done, for at most [`MUTATIONS_DEADLINE`]; other mutations
    /// of the tables (an operator's, another erasure's) are not waited for.
    pub(crate) async fn wait_for(&self, mutations: &[Mutation]) -> anyhow::Result<()> {
        if mutations.is_empty() {
            return Ok(());
        }
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let undone = self.undone(mutations).await?;
            if undone == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < MUTATIONS_DEADLINE,
                "{undone} mutations of the erasure not done after {} s",
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
            rows += bound(self.clickhouse.query(&sql), &values_of(project, chunk))
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

#[cfg(test)]
mod tests {
    use plumbing::config::ClickHouseConfig;

    use super::*;

    /// Every day's counter of the projects, summed, in order.
    const COUNTERS: &str = "SELECT project_id, date, sum(changes) FROM {db}.event_days \
         WHERE project_id != toUUID('00000000-0000-0000-0000-000000000000') \
         GROUP BY project_id, date ORDER BY project_id, date";

    /// The person `erased` has events on two days of project 1, `kept` on a third; project 2
    /// shares a day with them. Erasing the person counts one more change on each of project
    /// 1's days, theirs or not, and none on project 2's.
    #[tokio::test]
    async fn erasing_a_person_bumps_every_day_of_the_project() {
        let db = devstack::test::ClickHouseDb::unique();
        let server = db.server();
        let layout = Layout::new(&db.name, None).expect("layout");
        let config = ClickHouseConfig::local(server.http_port(), layout.database());
        crate::schema::apply_layout(&plumbing::clickhouse::server_client(&config), &layout)
            .await
            .expect("schema");
        let row = |project: u8, day: &str, id: u8, person: &str| {
            format!(
                "('00000000-0000-0000-0000-00000000000{project}', '{day}', '{day} 10:00:00', \
                 'e', '00000000-0000-0000-0000-0000000000{id:02}', '{person}')"
            )
        };
        let rows = [
            row(1, "2026-03-01", 1, "erased"),
            row(1, "2026-03-02", 2, "erased"),
            row(1, "2026-03-03", 3, "kept"),
            row(2, "2026-03-01", 4, "other"),
        ];
        server
            .query(&layout.fill(&format!(
                "INSERT INTO {{db}}.events (project_id, date, timestamp, event, event_id, \
                 distinct_id) VALUES {}",
                rows.join(", ")
            )))
            .expect("rows");
        let before = server.query(&layout.fill(COUNTERS)).expect("counters");
        assert_eq!(
            before,
            "00000000-0000-0000-0000-000000000001\t2026-03-01\t1\n\
             00000000-0000-0000-0000-000000000001\t2026-03-02\t1\n\
             00000000-0000-0000-0000-000000000001\t2026-03-03\t1\n\
             00000000-0000-0000-0000-000000000002\t2026-03-01\t1\n"
        );

        let tables = Tables {
            clickhouse: plumbing::clickhouse::client(&config),
            layout: layout.clone(),
        };
        let project = Uuid::from_u128(1);
        tables
            .erase_rows(project, &["erased".to_owned()])
            .await
            .expect("erased");
        let left = server
            .query(&layout.fill("SELECT distinct_id FROM {db}.events ORDER BY distinct_id"))
            .expect("events");
        assert_eq!(left, "kept\nother\n");
        let after = server.query(&layout.fill(COUNTERS)).expect("counters");
        assert_eq!(
            after,
            "00000000-0000-0000-0000-000000000001\t2026-03-01\t2\n\
             00000000-0000-0000-0000-000000000001\t2026-03-02\t2\n\
             00000000-0000-0000-0000-000000000001\t2026-03-03\t2\n\
             00000000-0000-0000-0000-000000000002\t2026-03-01\t1\n"
        );
    }
}
