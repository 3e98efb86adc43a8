//! The SQL the API runs, in one place. Every template runs on ClickHouse 18.16 and on current
//! ClickHouse; values are bound (`?`), never spliced. Events are read without `FINAL`: the
//! sink never writes an event twice (README, "exactly once"), and `FINAL` would cost five to
//! ten times the query itself.

/// The rows of one project in a time range: binds project id, from and to (epoch seconds,
/// `to` exclusive), then from and to again. The day bounds let ClickHouse skip every other
/// partition and index range (the sorting key starts with project and day).
pub const SCOPE: &str = "project_id = toUUID(?) \
     AND date >= toDate(toDateTime(?), 'UTC') AND date <= toDate(toDateTime(?), 'UTC') \
     AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?)";

/// Events, unique users and pageviews of a range; `{scope}` is [`SCOPE`] and the filters.
/// Users are estimated with `uniqCombined` (exact for small counts, about 0.5 % off from ten
/// thousand users; README, "Query API"), three times faster than `uniqExact` on 10 M events.
pub const OVERVIEW_TOTALS: &str = "SELECT count() AS events, uniqCombined(user_hash) AS users, \
     countIf(event = '$pageview') AS pageviews FROM events WHERE {scope}";

/// Sessions of a range (a user's events split where they are more than 30 minutes apart) and
/// the bounced ones (a single event); `{scope}` as above.
pub const OVERVIEW_SESSIONS: &str = "SELECT toUInt64(sum(length(sizes))) AS sessions, \
     toUInt64(sum(arrayCount(s -> s = 1, sizes))) AS bounced FROM ( \
       SELECT arraySort(groupArray(toUInt32(timestamp))) AS ts, \
         arrayFilter((i, gap) -> i = 1 OR gap > 1800, arrayEnumerate(ts), arrayDifference(ts)) AS starts, \
         arrayPopFront(arrayDifference(arrayPushBack(starts, length(ts) + 1))) AS sizes \
       FROM events WHERE {scope} GROUP BY user_hash)";

/// The columns of one event, in the order of `api::StoredEvent`.
pub const EVENT_COLUMNS: &str = "event_id, event, kind, distinct_id, user_id, session_id, \
     toUInt32(timestamp) AS timestamp, toUInt32(received_at) AS received_at, url, host, path, \
     referrer, referrer_domain, browser, os, device_type, lib, prop_keys, prop_values";

/// What ClickHouse holds for the events table: rows and bytes of its active parts, their
/// number, and the server's version (`system.parts` reads the same on 18.16 and today). The
/// aliases differ from the column names: ClickHouse resolves aliases everywhere in a query, so
/// `sum(rows) AS rows` would nest the aggregate in itself.
pub const EVENTS_PARTS: &str = "SELECT toUInt64(sum(rows)) AS active_rows, \
     toUInt64(sum(bytes_on_disk)) AS disk_bytes, toUInt64(count()) AS part_count, \
     version() AS server_version \
     FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active";

/// [`EVENTS_PARTS`] on a cluster (`{cluster}` is its name): the parts of every shard's
/// `events_local`, read through `cluster()`, which asks one replica of each shard, so rows
/// and bytes are those of one copy of the data. (`clusterAllReplicas`, which would add up every
/// copy, is newer than ClickHouse 18.16.) Binds the database: `currentDatabase()` would be
/// evaluated on each shard, whose connection has the server's default database.
pub const CLUSTER_EVENTS_PARTS: &str = "SELECT toUInt64(sum(rows)) AS active_rows, \
     toUInt64(sum(bytes_on_disk)) AS disk_bytes, toUInt64(count()) AS part_count, \
     version() AS server_version \
     FROM cluster('{cluster}', system, parts) \
     WHERE database = ? AND table = 'events_local' AND active";

/// The parts statement for the events in `database` on one server (`cluster` `None`) or on
/// `cluster`, whose name was checked to be plain (`plumbing::config`): the table function
/// takes it spliced.
pub fn events_parts(
    client: &clickhouse::Client,
    database: &str,
    cluster: Option<&str>,
) -> clickhouse::query::Query {
    match cluster {
        Some(cluster) => client
            .query(&CLUSTER_EVENTS_PARTS.replace("{cluster}", cluster))
            .bind(database),
        None => client.query(EVENTS_PARTS),
    }
}
