//! A sessions table of the release before, kept by month (no `day` column, sorted by project
//! and session), is dropped with its view and created again by day when the sink applies its
//! schema, on one server and on a cluster: the stored events' sessions are filled in again, a
//! row per day, and new events go through the new view.

use std::time::Duration;

use devstack::clickhouse::ClickHouse;
use devstack::test::{ClickHouseDb, TestCluster, unique_name};
use plumbing::config::ClickHouseConfig;
use sink::schema::Layout;

/// The columns of the sessions table of the release before.
const OLD_COLUMNS: &str = "project_id UUID,
        session_id String,
        month Date,
        started AggregateFunction(min, DateTime('UTC')),
        ended AggregateFunction(max, DateTime('UTC')),
        one_event AggregateFunction(uniqUpTo(1), UUID),
        distinct_id AggregateFunction(argMin, String, Tuple(DateTime('UTC'), UInt64)),
        entry_page AggregateFunction(argMinIf, String, Tuple(DateTime('UTC'), UInt64), UInt8),
        exit_page AggregateFunction(argMaxIf, String, Tuple(DateTime('UTC'), UInt64), UInt8),
        referrer_domain AggregateFunction(argMin, String, Tuple(DateTime('UTC'), UInt64)),
        channel AggregateFunction(argMin, String, Tuple(DateTime('UTC'), UInt64)),
        utm_source AggregateFunction(argMin, String, Tuple(DateTime('UTC'), UInt64)),
        utm_medium AggregateFunction(argMin, String, Tuple(DateTime('UTC'), UInt64)),
        utm_campaign AggregateFunction(argMin, String, Tuple(DateTime('UTC'), UInt64)),
        country AggregateFunction(argMin, String, Tuple(DateTime('UTC'), UInt64)),
        is_bot AggregateFunction(max, UInt8)";

/// The view's SELECT list of the release before.
const OLD_STATES: &str = "project_id, session_id, toStartOfMonth(date) AS month,
        minState(timestamp) AS started,
        maxState(timestamp) AS ended,
        uniqUpToState(1)(event_id) AS one_event,
        argMinState(distinct_id, (timestamp, stream_sequence)) AS distinct_id,
        argMinIfState(CAST(path AS String), (timestamp, stream_sequence), event = '$pageview') AS entry_page,
        argMaxIfState(CAST(path AS String), (timestamp, stream_sequence), event = '$pageview') AS exit_page,
        argMinState(CAST(referrer_domain AS String), (timestamp, stream_sequence)) AS referrer_domain,
        argMinState(CAST(channel AS String), (timestamp, stream_sequence)) AS channel,
        argMinState(CAST(utm_source AS String), (timestamp, stream_sequence)) AS utm_source,
        argMinState(CAST(utm_medium AS String), (timestamp, stream_sequence)) AS utm_medium,
        argMinState(CAST(utm_campaign AS String), (timestamp, stream_sequence)) AS utm_campaign,
        argMinState(CAST(country AS String), (timestamp, stream_sequence)) AS country,
        maxState(is_bot) AS is_bot";

/// The release before's table, view and backfill mark, on one server.
fn old_layout() -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE {{db}}.sessions ({OLD_COLUMNS}) ENGINE = AggregatingMergeTree() \
             PARTITION BY toYYYYMM(month) ORDER BY (project_id, session_id)"
        ),
        format!(
            "CREATE MATERIALIZED VIEW {{db}}.sessions_mv TO {{db}}.sessions AS SELECT \
             {OLD_STATES} FROM {{db}}.events WHERE session_id != '' \
             GROUP BY project_id, session_id, month"
        ),
        OLD_DONE.to_owned(),
    ]
}

/// The same on a cluster.
fn old_cluster_layout() -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE {{db}}.sessions_local ON CLUSTER {{cluster}} ({OLD_COLUMNS}) \
             ENGINE = ReplicatedAggregatingMergeTree(\
             '/clickhouse/tables/{{shard}}/{{db}}/sessions_local', '{{replica}}') \
             PARTITION BY toYYYYMM(month) ORDER BY (project_id, session_id)"
        ),
        format!(
            "CREATE MATERIALIZED VIEW {{db}}.sessions_mv ON CLUSTER {{cluster}} \
             TO {{db}}.sessions_local AS SELECT {OLD_STATES} FROM {{db}}.events_local \
             WHERE session_id != '' GROUP BY project_id, session_id, month"
        ),
        format!(
            "CREATE TABLE {{db}}.sessions ON CLUSTER {{cluster}} ({OLD_COLUMNS}) \
             ENGINE = Distributed({{cluster}}, {{db}}, sessions_local, cityHash64(session_id))"
        ),
        OLD_DONE.replace("{db}.sessions", "{db}.sessions_local"),
    ]
}

const OLD_DONE: &str = "INSERT INTO {db}.sessions (project_id, session_id, month) \
     VALUES ('00000000-0000-0000-0000-000000000000', 'backfilled', '2100-01-01')";

/// A session across midnight at a month's end (`x`) and events stored without a session id
/// (`u`); then, after the migration, one more event of `x`.
const BEFORE: &str = "INSERT INTO {db}.{events} (project_id, date, timestamp, event, event_id, \
     distinct_id, session_id, path, stream_sequence) VALUES \
     ('00000000-0000-0000-0000-000000000001', '2026-01-31', '2026-01-31 23:50:00', '$pageview', \
      '00000000-0000-0000-0000-0000000000b1', 's', 'x', '/in', 1), \
     ('00000000-0000-0000-0000-000000000001', '2026-02-01', '2026-02-01 00:10:00', '$pageview', \
      '00000000-0000-0000-0000-0000000000b2', 's', 'x', '/mid', 2), \
     ('00000000-0000-0000-0000-000000000001', '2026-01-05', '2026-01-05 10:00:00', '$pageview', \
      '00000000-0000-0000-0000-0000000000a1', 'u', '', '/a', 3)";

const AFTER: &str = "INSERT INTO {db}.{events} (project_id, date, timestamp, event, event_id, \
     distinct_id, session_id, path, stream_sequence) VALUES \
     ('00000000-0000-0000-0000-000000000001', '2026-02-01', '2026-02-01 00:20:00', '$pageview', \
      '00000000-0000-0000-0000-0000000000b3', 's', 'x', '/out', 4)";

/// Per session and day: its start, end, entry and exit page on that day.
const BY_DAY: &str = "SELECT if(startsWith(session_id, 'legacy-'), 'legacy', session_id) AS id, \
     toString(day), toString(month), toString(minMerge(started)), toString(maxMerge(ended)), \
     argMinIfMerge(entry_page), argMaxIfMerge(exit_page) FROM {db}.sessions \
     WHERE project_id = toUUID('00000000-0000-0000-0000-000000000001') \
     GROUP BY id, day, month ORDER BY id, day";

const EXPECTED: &str = "\
     legacy\t2026-01-05\t2026-01-01\t2026-01-05 10:00:00\t2026-01-05 10:00:00\t/a\t/a\n\
     x\t2026-01-31\t2026-01-01\t2026-01-31 23:50:00\t2026-01-31 23:50:00\t/in\t/in\n\
     x\t2026-02-01\t2026-02-01\t2026-02-01 00:10:00\t2026-02-01 00:20:00\t/mid\t/out\n";

/// The backfill marks: one, of the new layout.
const MARKS: &str = "SELECT toString(day), toString(month) FROM {db}.sessions \
     WHERE project_id = toUUID('00000000-0000-0000-0000-000000000000')";

/// `sql` with the names of `layout` filled in, on `server`.
fn run(server: &ClickHouse, layout: &Layout, sql: &str) -> String {
    let sql = sql
        .replace("{db}", layout.database())
        .replace("{cluster}", layout.cluster().unwrap_or_default())
        .replace(
            "{events}",
            if layout.cluster().is_some() {
                "events_local"
            } else {
                "events"
            },
        );
    server
        .query(&sql)
        .unwrap_or_else(|err| panic!("{err:#}\n{sql}"))
}

/// The first columns of `table` and its sorting, as `SHOW CREATE TABLE` gives them.
fn described(server: &ClickHouse, layout: &Layout, table: &str) -> (Vec<String>, bool) {
    let columns = run(server, layout, &format!("DESCRIBE TABLE {{db}}.{table}"))
        .lines()
        .take(4)
        .map(|line| line.split('\t').next().unwrap_or_default().to_owned())
        .collect();
    let create = run(server, layout, &format!("SHOW CREATE TABLE {{db}}.{table}"));
    (
        columns,
        create.contains("ORDER BY (project_id, day, session_id)"),
    )
}

/// The old layout on `server` (and the cluster's), its events, the schema applied twice; the
/// new layout holds the sessions by day, and a new event joins its session through the view.
async fn migrates(server: &ClickHouse, layout: &Layout, old: Vec<String>) {
    for statement in layout.statements().into_iter().chain(old) {
        run(server, layout, &statement);
    }
    run(server, layout, BEFORE);
    let old_rows = run(
        server,
        layout,
        "SELECT count() FROM {db}.sessions WHERE session_id = 'x'",
    );
    assert_eq!(old_rows.trim(), "2", "the old view's rows, one per month");

    let config = ClickHouseConfig {
        cluster: layout.cluster().map(str::to_owned),
        ..ClickHouseConfig::local(server.http_port(), layout.database())
    };
    let client = plumbing::clickhouse::server_client(&config);
    for _ in 0..2 {
        sink::schema::apply_layout(&client, layout)
            .await
            .expect("migrated, then nothing to do");
    }
    run(server, layout, AFTER);
    assert_eq!(run(server, layout, BY_DAY), EXPECTED);
    assert_eq!(run(server, layout, MARKS), "2100-01-01\t2100-01-01\n");
}

#[tokio::test]
async fn sessions_kept_by_month_are_rebuilt_by_day_on_one_server() {
    let db = ClickHouseDb::unique();
    let layout = Layout::new(&db.name, None).expect("layout");
    migrates(db.server(), &layout, old_layout()).await;
    let sessions = described(db.server(), &layout, "sessions");
    assert_eq!(
        sessions,
        (
            ["project_id", "session_id", "day", "month"]
                .map(str::to_owned)
                .to_vec(),
            true
        )
    );
}

/// How long the cluster's DDL may take on a loaded machine.
const DDL: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread")]
async fn sessions_kept_by_month_are_rebuilt_by_day_on_every_shard_of_a_cluster() {
    let cluster = TestCluster::start(2).expect("zookeeper and two clickhouse servers");
    let layout = Layout::new(&unique_name("test"), Some(cluster.name())).expect("layout");
    tokio::time::timeout(
        DDL,
        migrates(&cluster.servers[0], &layout, old_cluster_layout()),
    )
    .await
    .expect("the cluster's DDL within its time");
    let new = (
        ["project_id", "session_id", "day", "month"]
            .map(str::to_owned)
            .to_vec(),
        true,
    );
    for server in &cluster.servers {
        assert_eq!(described(server, &layout, "sessions_local"), new);
        let routed = described(server, &layout, "sessions").0;
        assert_eq!(routed, new.0, "the Distributed table has the new columns");
    }
}
