//! The table `event_days`: per project and UTC day, a counter of changes to that day's events.
//! A reader that caches figures per day (query's overview) compares a day's counter with the
//! one its figures were computed at: a counter that moved means the day changed. Every insert
//! into `events` adds its rows of each day (a materialized view), the sink adds one to each day
//! it wrote once its INSERT returned (`crate::table`: after the sessions' view too), and so does
//! the sessions' backfill to every day; an erasure adds one to every day of the project once the
//! person's rows are gone ([`BUMP_DAYS`]), and retention drops its months with the events'. The figure only grows: a copy of an event stored again bumps it
//! too, which costs a reader one needless recomputation and nothing else.
//!
//! A `SummingMergeTree`, so a day's rows become one as ClickHouse merges them; readers sum
//! (`sum(changes) … GROUP BY project_id, date`). On a cluster the view runs on each shard's
//! `events_local` into its `event_days_local`, and `event_days` is a `Distributed` table over
//! them (a day's rows on several shards, summed by the reader).
//!
//! A database that held events before the table existed is filled once, when the table is
//! created ([`apply`]), from the stored events, and marked done by a row of its own.

use anyhow::Context as _;

use crate::schema::layout::Layout;

/// The columns of `event_days` (and of each shard's `event_days_local`).
macro_rules! event_days_columns {
    () => {
        "project_id UUID,
        date Date,
        changes UInt64"
    };
}

/// Partitioning (by month, as the events) and sorting of the table that stores the counters.
macro_rules! event_days_storage {
    () => {
        "PARTITION BY toYYYYMM(date)
    ORDER BY (project_id, date)"
    };
}

/// The table and its view on one server, after the events table.
const STATEMENTS: &[&str] = &[
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.event_days (
        ",
        event_days_columns!(),
        "
    )
    ENGINE = SummingMergeTree()
    ",
        event_days_storage!()
    ),
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_days_mv TO {db}.event_days AS
    SELECT project_id, date, count() AS changes FROM {db}.events GROUP BY project_id, date",
];

/// The same on a cluster: each shard's replicated `event_days_local`, the view on each shard's
/// `events_local`, and the `Distributed` table `event_days` that readers read and the fill and
/// erasures write (any shard will do: readers sum a day's rows wherever they are).
const CLUSTER_STATEMENTS: &[&str] = &[
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.event_days_local ON CLUSTER {cluster} (
        ",
        event_days_columns!(),
        "
    )
    ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{db}/event_days_local', '{replica}')
    ",
        event_days_storage!()
    ),
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_days_mv ON CLUSTER {cluster} TO {db}.event_days_local AS
    SELECT project_id, date, count() AS changes FROM {db}.events_local GROUP BY project_id, date",
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.event_days ON CLUSTER {cluster} (
        ",
        event_days_columns!(),
        "
    )
    ENGINE = Distributed({cluster}, {db}, event_days_local, rand())"
    ),
];

/// The fill of a table created beside stored events: every day's events counted once.
const FILL: &str = "INSERT INTO {db}.event_days \
     SELECT project_id, date, count() FROM {db}.events GROUP BY project_id, date";

/// The row that says the fill is done, written after it: in the table itself, so that a table
/// dropped to be rebuilt is filled again. Its project is the nil UUID, which no reader asks
/// for, and its date 2100-01-01, whose month retention never reaches; its counter is not zero,
/// since a `SummingMergeTree` removes the rows whose sums are.
const DONE: &str = "INSERT INTO {db}.event_days (project_id, date, changes) \
     VALUES ('00000000-0000-0000-0000-000000000000', '2100-01-01', 1)";

const IS_DONE: &str = "SELECT count() FROM {db}.event_days \
     WHERE project_id = toUUID('00000000-0000-0000-0000-000000000000') \
     AND date = toDate('2100-01-01')";

/// What an erasure runs once the person's rows left `events` and `sessions` (binds: the
/// project): one more change on every day of the project, since a mutation's delete passes no
/// view. Every day, not only the person's: the days their events fell on are no longer known
/// once the rows are gone.
pub(crate) const BUMP_DAYS: &str = "INSERT INTO {db}.event_days \
     SELECT project_id, date, toUInt64(1) FROM {db}.event_days \
     WHERE project_id = ? GROUP BY project_id, date";

/// [`BUMP_DAYS`] for every project: what the sessions' backfill runs once it filled the
/// sessions of stored events.
pub(crate) const BUMP_EVERY_DAY: &str = "INSERT INTO {db}.event_days \
     SELECT project_id, date, toUInt64(1) FROM {db}.event_days GROUP BY project_id, date";

/// The statements of `layout`'s table and view.
pub(crate) fn statements(layout: &Layout) -> Vec<String> {
    let templates = if layout.cluster().is_some() {
        CLUSTER_STATEMENTS
    } else {
        STATEMENTS
    };
    templates.iter().map(|sql| layout.fill(sql)).collect()
}

/// Creates the table and its view, and fills the table from the events stored before it
/// existed, unless that was done. Events the view counts while the fill runs may count twice,
/// and a fill cut short is done again whole at the next start: either only adds to counters,
/// which is all a reader asks of them.
pub(crate) async fn apply(server: &clickhouse::Client, layout: &Layout) -> anyhow::Result<()> {
    for sql in statements(layout) {
        server
            .query(&sql)
            .execute()
            .await
            .with_context(|| format!("applying the event days schema: {}", first_line(&sql)))?;
    }
    // Inserts through a cluster's `Distributed` table return once the shards hold the rows.
    let server = server.clone().with_setting("insert_distributed_sync", "1");
    let done: u64 = server
        .query(&layout.fill(IS_DONE))
        .fetch_one()
        .await
        .context("reading whether the event days were filled")?;
    if done > 0 {
        return Ok(());
    }
    for (sql, what) in [
        (FILL, "filling the event days of stored events"),
        (DONE, "marking the event days filled"),
    ] {
        server
            .query(&layout.fill(sql))
            .execute()
            .await
            .context(what)?;
    }
    Ok(())
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two inserts of events of two projects over three days.
    const INSERTS: [&str; 2] = [
        "INSERT INTO {db}.events (project_id, date, timestamp, event, event_id, distinct_id) \
         VALUES \
         ('00000000-0000-0000-0000-000000000001', '2026-03-01', '2026-03-01 10:00:00', 'e', \
          '00000000-0000-0000-0000-0000000000a1', 'u'), \
         ('00000000-0000-0000-0000-000000000001', '2026-03-01', '2026-03-01 11:00:00', 'e', \
          '00000000-0000-0000-0000-0000000000a2', 'u'), \
         ('00000000-0000-0000-0000-000000000001', '2026-03-02', '2026-03-02 10:00:00', 'e', \
          '00000000-0000-0000-0000-0000000000a3', 'u'), \
         ('00000000-0000-0000-0000-000000000002', '2026-03-01', '2026-03-01 10:00:00', 'e', \
          '00000000-0000-0000-0000-0000000000b1', 'v')",
        "INSERT INTO {db}.events (project_id, date, timestamp, event, event_id, distinct_id) \
         VALUES \
         ('00000000-0000-0000-0000-000000000001', '2026-03-02', '2026-03-02 12:00:00', 'e', \
          '00000000-0000-0000-0000-0000000000a4', 'u'), \
         ('00000000-0000-0000-0000-000000000001', '2026-04-30', '2026-04-30 12:00:00', 'e', \
          '00000000-0000-0000-0000-0000000000a5', 'u')",
    ];

    /// Every counter, summed, the fill's mark included.
    const COUNTERS: &str = "SELECT project_id, date, sum(changes) FROM {db}.event_days \
         GROUP BY project_id, date ORDER BY project_id, date";

    const AFTER_THE_FIRST: &str = "00000000-0000-0000-0000-000000000000\t2100-01-01\t1\n\
         00000000-0000-0000-0000-000000000001\t2026-03-01\t2\n\
         00000000-0000-0000-0000-000000000001\t2026-03-02\t1\n\
         00000000-0000-0000-0000-000000000002\t2026-03-01\t1\n";

    #[test]
    fn a_cluster_counts_on_every_shard_behind_a_distributed_table_of_the_same_columns() {
        let cluster = statements(&Layout::new("analytics", Some("c")).expect("layout"));
        let single = statements(&Layout::new("analytics", None).expect("layout"));
        assert!(cluster.iter().all(|sql| sql.contains(" ON CLUSTER c ")));
        assert!(cluster[0].contains(
            "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/analytics/event_days_local', \
             '{replica}')"
        ));
        assert!(cluster[1].contains("TO analytics.event_days_local"));
        assert!(cluster[1].contains("FROM analytics.events_local "));
        assert!(cluster[2].contains("Distributed(c, analytics, event_days_local, rand())"));
        let columns = |sql: &str| {
            let start = sql.find("project_id UUID").unwrap_or(0);
            let end = sql.find("\n    )").unwrap_or(sql.len());
            sql[start..end].to_owned()
        };
        assert_eq!(columns(&single[0]), columns(&cluster[0]));
        assert_eq!(columns(&single[0]), columns(&cluster[2]));
        assert!(single[0].ends_with(event_days_storage!()));
        assert!(cluster[0].ends_with(event_days_storage!()));
    }

    /// Each insert adds its rows of each day to that day's counter, on ClickHouse 18.16 and on
    /// current ClickHouse, and an erasure's bump adds one to every day of its project only.
    #[tokio::test]
    async fn inserting_events_bumps_their_days_counters_on_both_versions() {
        let db = devstack::test::ClickHouseDb::unique();
        let server = db.server();
        let layout = Layout::new(&db.name, None).expect("layout");
        let client = clickhouse::Client::default()
            .with_url(format!("http://127.0.0.1:{}", server.http_port()))
            .with_validation(false);
        crate::schema::apply_layout(&client, &layout)
            .await
            .expect("schema");
        let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
        let current = Layout::new("default", None).expect("layout");
        for statement in crate::schema::statements("default").expect("schema") {
            chdb.query(&statement)
                .expect("the schema on current ClickHouse");
        }
        // A new database is marked filled at once, with nothing to fill.
        chdb.query(&current.fill(DONE)).expect("marked");

        server.query(&layout.fill(INSERTS[0])).expect("rows");
        chdb.query(&current.fill(INSERTS[0])).expect("rows");
        let old = server.query(&layout.fill(COUNTERS)).expect("counters");
        assert_eq!(old, AFTER_THE_FIRST);
        assert_eq!(chdb.query(&current.fill(COUNTERS)).expect("counters"), old);

        let bump = |layout: &Layout| {
            layout
                .fill(BUMP_DAYS)
                .replace('?', "'00000000-0000-0000-0000-000000000001'")
        };
        server.query(&layout.fill(INSERTS[1])).expect("rows");
        server.query(&bump(&layout)).expect("bumped");
        chdb.query(&current.fill(INSERTS[1])).expect("rows");
        chdb.query(&bump(&current)).expect("bumped");
        let old = server.query(&layout.fill(COUNTERS)).expect("counters");
        assert_eq!(
            old,
            "00000000-0000-0000-0000-000000000000\t2100-01-01\t1\n\
             00000000-0000-0000-0000-000000000001\t2026-03-01\t3\n\
             00000000-0000-0000-0000-000000000001\t2026-03-02\t3\n\
             00000000-0000-0000-0000-000000000001\t2026-04-30\t2\n\
             00000000-0000-0000-0000-000000000002\t2026-03-01\t1\n"
        );
        assert_eq!(chdb.query(&current.fill(COUNTERS)).expect("counters"), old);
    }

    /// A table created beside stored events counts each of their days once, on ClickHouse
    /// 18.16 and on current ClickHouse; applying the schema again adds nothing.
    #[tokio::test]
    async fn a_table_created_beside_stored_events_is_filled_once_on_both_versions() {
        let db = devstack::test::ClickHouseDb::unique();
        let server = db.server();
        let layout = Layout::new(&db.name, None).expect("layout");
        let client = clickhouse::Client::default()
            .with_url(format!("http://127.0.0.1:{}", server.http_port()))
            .with_validation(false);
        crate::schema::apply_layout(&client, &layout)
            .await
            .expect("schema");
        server.query(&layout.fill(INSERTS[0])).expect("rows");
        for sql in [
            "DROP TABLE {db}.event_days_mv",
            "DROP TABLE {db}.event_days",
        ] {
            server
                .query(&layout.fill(sql))
                .expect("as before the table");
        }
        for _ in 0..2 {
            crate::schema::apply_layout(&client, &layout)
                .await
                .expect("filled, then nothing to do");
        }
        let old = server.query(&layout.fill(COUNTERS)).expect("counters");
        assert_eq!(old, AFTER_THE_FIRST);

        let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
        let current = Layout::new("default", None).expect("layout");
        let created = crate::schema::statements("default").expect("schema");
        let (days, others): (Vec<String>, Vec<String>) = created
            .into_iter()
            .partition(|sql| sql.contains("event_days"));
        for statement in others {
            chdb.query(&statement)
                .expect("the schema on current ClickHouse");
        }
        chdb.query(&current.fill(INSERTS[0])).expect("rows");
        for statement in days {
            chdb.query(&statement).expect("the table");
        }
        for sql in [FILL, DONE] {
            chdb.query(&current.fill(sql)).expect("filled");
        }
        let done = chdb.query(&current.fill(IS_DONE)).expect("marked");
        assert_eq!(done.trim(), "1");
        assert_eq!(chdb.query(&current.fill(COUNTERS)).expect("counters"), old);
    }
}
