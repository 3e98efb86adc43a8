//! The sessions table: one row per session (per insert, until ClickHouse merges them), kept by
//! a materialized view from the events the sink inserts, which carry their session ids
//! (`crate::sessions`). The view only sums up: start, end, whether the session has one event
//! or more, its first and last pageview's path, and the person, referrer, channel, campaign
//! and country of its first event. Every column is an aggregate state that a copy of an event
//! leaves as it was (min, max, argMin, argMax, a count of distinct event ids), so the table
//! stays exact when the events table briefly holds an event twice, and rebuilding it over the
//! events it already covers changes nothing.
//!
//! A reader merges the states of each session (`GROUP BY session_id` with `-Merge`): a session
//! has a row per insert that touched it and per UTC day its events fall into (`day`, first in
//! the sorting key after the project, so that a reader of a few days reads only their rows; a
//! session across midnight has a row on each side). The partition is the month of that day,
//! as for events, so retention drops the same months of both. The events' count and pageviews
//! are not kept per session: with `uniqExact` states of event ids, merging the million
//! sessions of a 30-day overview on 10 M events took three to four times as long on ClickHouse
//! 18.16 (about 0.9 s against 0.25 s on two cores), while the bounce (a session of one event)
//! needs only `uniqUpTo(1)`, and pages per session are the range's pageviews per session.
//!
//! On a cluster the view runs on each shard's `events_local` into its `sessions_local`, and
//! `sessions` is a `Distributed` table over them: a session whose events sit on two shards
//! (two distinct ids of one person) has rows on both, merged by the reader.
//!
//! A database that held events before sessions existed is filled once, when the table is
//! created ([`apply`]): sessions of the stored events that have a session id, and for the
//! events stored without one, 30-minute sessions per distinct id (`legacy-…` ids, which the
//! events themselves do not carry).
//!
//! A sessions table of an earlier release, kept by month without `day`, is dropped with its
//! view and created again, then filled like a new one (its marker went with it).

use anyhow::Context as _;

use crate::schema::layout::Layout;

/// The columns of `sessions` (and of each shard's `sessions_local`). `day` is the UTC date of
/// the row's events, `month` the first day of its month (the partition); the states order
/// events by time, then by stream sequence, so that events of one second give every server
/// the same answer.
macro_rules! session_columns {
    () => {
        "project_id UUID,
        session_id String,
        day Date,
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
        is_bot AggregateFunction(max, UInt8)"
    };
}

/// What a set of events adds to their sessions: the view's SELECT list, and the backfill's.
/// Dimensions stored as `LowCardinality` are read as plain strings, the type of the states.
macro_rules! session_states {
    () => {
        "project_id, session_id, date AS day, toStartOfMonth(date) AS month,
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
        maxState(is_bot) AS is_bot"
    };
}

/// Partitioning and sorting of the table that stores sessions.
macro_rules! sessions_storage {
    () => {
        "PARTITION BY toYYYYMM(month)
    ORDER BY (project_id, day, session_id)"
    };
}

/// The table and its view on one server, after the events table (and its columns) exist.
pub(crate) const SESSION_STATEMENTS: &[&str] = &[
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.sessions (
        ",
        session_columns!(),
        "
    )
    ENGINE = AggregatingMergeTree()
    ",
        sessions_storage!()
    ),
    concat!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.sessions_mv TO {db}.sessions AS
    SELECT ",
        session_states!(),
        "
    FROM {db}.events WHERE session_id != '' GROUP BY project_id, session_id, day"
    ),
];

/// The same on a cluster: each shard's replicated `sessions_local`, the view on each shard's
/// `events_local`, and the `Distributed` table `sessions` that query reads (and the backfill
/// writes: any shard will do, since readers merge a session's rows wherever they are).
pub(crate) const SESSION_CLUSTER_STATEMENTS: &[&str] = &[
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.sessions_local ON CLUSTER {cluster} (
        ",
        session_columns!(),
        "
    )
    ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{db}/sessions_local', '{replica}')
    ",
        sessions_storage!()
    ),
    concat!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.sessions_mv ON CLUSTER {cluster} TO {db}.sessions_local AS
    SELECT ",
        session_states!(),
        "
    FROM {db}.events_local WHERE session_id != '' GROUP BY project_id, session_id, day"
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS {db}.sessions ON CLUSTER {cluster} (
        ",
        session_columns!(),
        "
    )
    ENGINE = Distributed({cluster}, {db}, sessions_local, cityHash64(session_id))"
    ),
];

/// The backfill of the events that have a session id, one slice of the sessions at a time
/// (binds: the number of slices, the slice), so that no statement holds every session's
/// states in memory at once.
const BACKFILL: &str = concat!(
    "INSERT INTO {db}.sessions SELECT ",
    session_states!(),
    " FROM {db}.events WHERE session_id != '' AND cityHash64(session_id) % ? = ? \
     GROUP BY project_id, session_id, day"
);

/// The backfill of the events stored without a session id, one slice of the distinct ids at a
/// time (binds as above): per distinct id, its events in time order, split where 30 minutes
/// pass without one (as the overview used to count them), each part a session
/// `legacy-<hash of project and id>-<number>`.
const LEGACY_BACKFILL: &str = concat!(
    "INSERT INTO {db}.sessions SELECT ",
    session_states!(),
    " FROM (
      SELECT project_id, distinct_id,
        concat('legacy-', hex(cityHash64(toString(project_id), distinct_id)), '-', toString(n)) AS session_id,
        e.1 AS timestamp, e.2 AS stream_sequence, e.3 AS date, e.4 AS event_id, e.5 AS event,
        e.6 AS path, e.7 AS referrer_domain, e.8 AS channel, e.9 AS utm_source,
        e.10 AS utm_medium, e.11 AS utm_campaign, e.12 AS country, e.13 AS is_bot
      FROM (
        SELECT project_id, distinct_id,
          arraySort(x -> (x.1, x.2), groupArray((timestamp, stream_sequence, date, event_id, event,
            CAST(path AS String), CAST(referrer_domain AS String), CAST(channel AS String),
            CAST(utm_source AS String), CAST(utm_medium AS String), CAST(utm_campaign AS String),
            CAST(country AS String), is_bot))) AS evs,
          arrayCumSum(arrayMap((gap, i) -> toUInt32(i = 1 OR gap > 1800),
            arrayDifference(arrayMap(x -> toUInt32(x.1), evs)), arrayEnumerate(evs))) AS numbers
        FROM {db}.events WHERE session_id = '' AND cityHash64(distinct_id) % ? = ?
        GROUP BY project_id, distinct_id
      ) ARRAY JOIN evs AS e, numbers AS n
    ) GROUP BY project_id, session_id, day"
);

/// Slices of a backfill.
const SLICES: u64 = 16;

/// The row that says the backfill is done, written after it: in the table itself, so that a
/// sessions table dropped to be rebuilt is filled again when the sink recreates it. Its
/// project is the nil UUID, which no query asks for, and its day 2100-01-01, whose month
/// retention never reaches.
const DONE: &str = "INSERT INTO {db}.sessions (project_id, session_id, day, month) \
     VALUES ('00000000-0000-0000-0000-000000000000', 'backfilled', '2100-01-01', '2100-01-01')";

const IS_DONE: &str = "SELECT count() FROM {db}.sessions \
     WHERE project_id = toUUID('00000000-0000-0000-0000-000000000000') \
     AND session_id = 'backfilled'";

/// The statements of `layout`'s sessions table and view.
pub(crate) fn statements(layout: &Layout) -> Vec<String> {
    let templates = if layout.cluster().is_some() {
        SESSION_CLUSTER_STATEMENTS
    } else {
        SESSION_STATEMENTS
    };
    templates.iter().map(|sql| layout.fill(sql)).collect()
}

/// What drops the sessions of an earlier release, view first (so that no insert writes to a
/// table being dropped), on one server.
const DROP_MONTHLY: &[&str] = &[
    "DROP TABLE IF EXISTS {db}.sessions_mv",
    "DROP TABLE IF EXISTS {db}.sessions",
];

/// The same on a cluster: the `Distributed` table before the shards' tables, so that a run cut
/// short leaves `sessions_local` without `day`, which the next run finds and drops again.
const DROP_MONTHLY_CLUSTER: &[&str] = &[
    "DROP TABLE IF EXISTS {db}.sessions_mv ON CLUSTER {cluster}",
    "DROP TABLE IF EXISTS {db}.sessions ON CLUSTER {cluster}",
    "DROP TABLE IF EXISTS {db}.sessions_local ON CLUSTER {cluster}",
];

/// Creates the sessions table and its view, and fills the table from the events stored before
/// it existed, unless that was done. A backfill cut short is done again whole at the next
/// start, which changes nothing the first did; so does a sink starting beside another.
pub(crate) async fn apply(server: &clickhouse::Client, layout: &Layout) -> anyhow::Result<()> {
    drop_monthly(server, layout).await?;
    for sql in statements(layout) {
        server
            .query(&sql)
            .execute()
            .await
            .with_context(|| format!("applying the sessions schema: {}", first_line(&sql)))?;
    }
    // Inserts through a cluster's `Distributed` table return once the shards hold the rows.
    let server = server.clone().with_setting("insert_distributed_sync", "1");
    let done: u64 = server
        .query(&layout.fill(IS_DONE))
        .fetch_one()
        .await
        .context("reading whether sessions were backfilled")?;
    if done > 0 {
        return Ok(());
    }
    // A new database has no events to fill from (on a cluster, the slices would each be a
    // query to every shard for nothing).
    let stored: u64 = server
        .query(&layout.fill("SELECT count() FROM {db}.events"))
        .fetch_one()
        .await
        .context("counting the stored events")?;
    for template in [BACKFILL, LEGACY_BACKFILL]
        .into_iter()
        .filter(|_| stored > 0)
    {
        for slice in 0..SLICES {
            server
                .query(&layout.fill(template))
                .bind(SLICES)
                .bind(slice)
                .execute()
                .await
                .context("filling the sessions of stored events")?;
        }
    }
    if stored > 0 {
        // A reader that kept days from the sessions before they were filled learns they
        // changed.
        server
            .query(&layout.fill(crate::schema::event_days::BUMP_EVERY_DAY))
            .execute()
            .await
            .context("marking every day changed after the sessions' backfill")?;
    }
    server
        .query(&layout.fill(DONE))
        .execute()
        .await
        .context("marking the sessions backfilled")?;
    Ok(())
}

/// Drops the table and view of an earlier release, whose rows are kept by month and not by day
/// (the table holding them lacks `day`), so that [`apply`] creates and fills them anew.
async fn drop_monthly(server: &clickhouse::Client, layout: &Layout) -> anyhow::Result<()> {
    let (table, drops) = if layout.cluster().is_some() {
        ("sessions_local", DROP_MONTHLY_CLUSTER)
    } else {
        ("sessions", DROP_MONTHLY)
    };
    let columns: Vec<String> = server
        .query("SELECT name FROM system.columns WHERE database = ? AND table = ?")
        .bind(layout.database())
        .bind(table)
        .fetch_all()
        .await
        .with_context(|| format!("reading the columns of {table}"))?;
    if columns.is_empty() || columns.iter().any(|name| name == "day") {
        return Ok(());
    }
    tracing::info!(
        table,
        "sessions kept by month: dropped to be rebuilt by day"
    );
    for sql in drops {
        server
            .query(&layout.fill(sql))
            .execute()
            .await
            .with_context(|| format!("dropping the sessions kept by month: {sql}"))?;
    }
    Ok(())
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events of one project: `s` with a session id over a month's end, `u` and `v` stored
    /// without one (`u` in two parts 70 minutes apart, `v` once, a bot).
    const ROWS: &str = "INSERT INTO {db}.events (project_id, date, timestamp, event, event_id, \
         distinct_id, session_id, path, referrer_domain, channel, country, is_bot, \
         stream_sequence) VALUES \
         ('00000000-0000-0000-0000-000000000001', '2026-01-31', '2026-01-31 23:50:00', \
          '$pageview', '00000000-0000-0000-0000-0000000000b1', 's', 'x', '/in', 'google.com', \
          'Organic Search', 'DE', 0, 1), \
         ('00000000-0000-0000-0000-000000000001', '2026-02-01', '2026-02-01 00:10:00', \
          '$pageview', '00000000-0000-0000-0000-0000000000b2', 's', 'x', '/out', '', '', 'DE', \
          0, 2), \
         ('00000000-0000-0000-0000-000000000001', '2026-01-01', '2026-01-01 10:00:00', \
          '$pageview', '00000000-0000-0000-0000-0000000000a1', 'u', '', '/a', '', '', 'FR', 0, 3), \
         ('00000000-0000-0000-0000-000000000001', '2026-01-01', '2026-01-01 10:20:00', \
          'click', '00000000-0000-0000-0000-0000000000a2', 'u', '', '/b', '', '', 'FR', 0, 4), \
         ('00000000-0000-0000-0000-000000000001', '2026-01-01', '2026-01-01 11:30:00', \
          '$pageview', '00000000-0000-0000-0000-0000000000a3', 'u', '', '/c', '', '', 'FR', 0, 5), \
         ('00000000-0000-0000-0000-000000000001', '2026-01-01', '2026-01-01 11:30:00', \
          '$pageview', '00000000-0000-0000-0000-0000000000a4', 'v', '', '/c', '', '', '', 1, 6)";

    /// Every session of the project, merged.
    const MERGED: &str = "SELECT session_id, minMerge(started), maxMerge(ended), \
         uniqUpToMerge(1)(one_event), argMinMerge(distinct_id), argMinIfMerge(entry_page), \
         argMaxIfMerge(exit_page), argMinMerge(referrer_domain), argMinMerge(channel), \
         argMinMerge(country), maxMerge(is_bot) FROM {db}.sessions \
         WHERE project_id = toUUID('00000000-0000-0000-0000-000000000001') \
         GROUP BY session_id ORDER BY session_id";

    /// The days and months of the rows of every session of the project.
    const DAYS: &str = "SELECT session_id, day, month FROM {db}.sessions \
         WHERE project_id = toUUID('00000000-0000-0000-0000-000000000001') \
         GROUP BY session_id, day, month ORDER BY session_id, day";

    /// Stored events, then the schema applied to them (the backfill), then the same events
    /// again through the view: ClickHouse 18.16 and current ClickHouse hold the same sessions,
    /// the backfill's and the view's, whatever copies of them were summed, with a row on each
    /// side of midnight for the session across it.
    #[tokio::test]
    async fn the_backfill_and_the_view_make_the_same_sessions_by_day_on_both_versions() {
        let server = devstack::test::clickhouse();
        let db = devstack::test::unique_name("sessions");
        let layout = Layout::new(&db, None).expect("layout");
        let client = clickhouse::Client::default()
            .with_url(format!("http://127.0.0.1:{}", server.http_port()))
            .with_validation(false);
        crate::schema::apply_layout(&client, &layout)
            .await
            .expect("schema");
        server.query(&layout.fill(ROWS)).expect("rows");
        // As if the table had been created before these events: emptied, filled anew.
        server
            .query(&layout.fill("TRUNCATE TABLE {db}.sessions"))
            .expect("emptied");
        crate::schema::apply_layout(&client, &layout)
            .await
            .expect("backfilled");
        crate::schema::apply_layout(&client, &layout)
            .await
            .expect("applied again: nothing to do");
        server.query(&layout.fill(ROWS)).expect("the rows again");
        let old = server.query(&layout.fill(MERGED)).expect("sessions");
        let sessions: Vec<&str> = old.lines().collect();
        assert_eq!(sessions.len(), 4, "{old}");
        assert!(sessions[0].starts_with("legacy-"), "{old}");
        assert!(
            old.contains("\t2026-01-01 10:00:00\t2026-01-01 10:20:00\t2\tu\t/a\t/a\t\t\tFR\t0\n"),
            "{old}"
        );
        assert!(
            old.contains("x\t2026-01-31 23:50:00\t2026-02-01 00:10:00\t2\ts\t/in\t/out\tgoogle.com\tOrganic Search\tDE\t0\n"),
            "{old}"
        );
        let old_days = server.query(&layout.fill(DAYS)).expect("days");
        assert!(
            old_days.ends_with("x\t2026-01-31\t2026-01-01\nx\t2026-02-01\t2026-02-01\n"),
            "{old_days}"
        );
        assert_eq!(old_days.lines().count(), 5, "{old_days}");

        let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
        let layout = Layout::new("default", None).expect("layout");
        for statement in crate::schema::statements("default").expect("schema") {
            chdb.query(&statement)
                .expect("the schema on current ClickHouse");
        }
        chdb.query(&layout.fill(ROWS)).expect("rows");
        chdb.query(&layout.fill("TRUNCATE TABLE {db}.sessions"))
            .expect("emptied");
        for template in [BACKFILL, LEGACY_BACKFILL] {
            for slice in 0..SLICES {
                let sql = layout
                    .fill(template)
                    .replace("% ? = ?", &format!("% {SLICES} = {slice}"));
                chdb.query(&sql)
                    .expect("the backfill on current ClickHouse");
            }
        }
        chdb.query(&layout.fill(DONE)).expect("marked");
        chdb.query(&layout.fill(ROWS)).expect("the rows again");
        let current = chdb.query(&layout.fill(MERGED)).expect("sessions");
        assert_eq!(old, current);
        let current_days = chdb.query(&layout.fill(DAYS)).expect("days");
        assert_eq!(old_days, current_days);
    }
}
