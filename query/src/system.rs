//! The system status (admins): the figures of the pipeline an admin checks first when
//! numbers look wrong — the streams, the durable consumers' backlogs, the dead-letter stream,
//! what ClickHouse holds and the erasures of persons not done yet. Each part is read on its own
//! with a deadline, so one that is down or slow becomes a sentence in `problems` and the rest
//! is still answered. Edge adds the services' readiness and serves the whole as
//! `GET /api/admin/status`.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use clickhouse::Row;
use contract::status::{ClickHouseStatus, ConsumerStatus, PipelineStatus, StreamStatus};
use contract::streams::{
    AUTH_PROJECTOR_CONSUMER, AUTH_STREAM, EVENTS_DLQ_STREAM, EVENTS_HISTORY_STREAM, EVENTS_STREAM,
    SINK_CONSUMER,
};
use serde::Deserialize;

use crate::store::Store;

/// How long one part may take before it is reported as not answering.
const PART_TIMEOUT: Duration = Duration::from_secs(2);

/// The streams shown, in this order.
const STREAMS: [&str; 4] = [
    EVENTS_STREAM,
    EVENTS_HISTORY_STREAM,
    EVENTS_DLQ_STREAM,
    AUTH_STREAM,
];

/// How full the unstored backlog may get before the status names it as a problem.
const BACKLOG_WARNING_PERCENT: u64 = 80;

/// The durable consumers shown, with their streams.
const CONSUMERS: [(&str, &str); 2] = [
    (EVENTS_STREAM, SINK_CONSUMER),
    (AUTH_STREAM, AUTH_PROJECTOR_CONSUMER),
];

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

#[derive(Debug, Row, Deserialize)]
struct Parts {
    rows: u64,
    bytes_on_disk: u64,
    parts: u64,
    version: String,
}

/// Every part, read concurrently.
pub(crate) async fn pipeline(nats: &async_nats::Client, store: &Store) -> PipelineStatus {
    let js = jetstream::new(nats.clone());
    let streams = futures_util::future::join_all(
        STREAMS.map(|name| within(format!("the stream {name}"), stream(&js, name))),
    );
    let consumers = futures_util::future::join_all(CONSUMERS.map(|(stream, name)| {
        within(
            format!("the consumer {name} on {stream}"),
            consumer(&js, stream, name),
        )
    }));
    let clickhouse = within("the ClickHouse events table".to_owned(), clickhouse(store));
    let erasures = within(
        "the pending erasures".to_owned(),
        crate::erasure::pending(nats),
    );
    let (streams, consumers, clickhouse, erasures) =
        tokio::join!(streams, consumers, clickhouse, erasures);

    let mut problems = Vec::new();
    let streams: Vec<StreamStatus> = streams
        .into_iter()
        .filter_map(|part| found(part, &mut problems))
        .collect();
    let consumers: Vec<ConsumerStatus> = consumers
        .into_iter()
        .filter_map(|part| found(part, &mut problems))
        .collect();
    let clickhouse = found(clickhouse, &mut problems);
    let pending_erasures = found(erasures, &mut problems).unwrap_or_default();
    if let Some(used) = streams
        .iter()
        .find(|stream| stream.name == EVENTS_STREAM)
        .and_then(StreamStatus::used_percent)
        .filter(|used| *used >= BACKLOG_WARNING_PERCENT)
    {
        problems.push(format!(
            "the events not stored in ClickHouse yet fill {used} % of their budget on \
             {EVENTS_STREAM}: ingest refuses events (503) once it is full"
        ));
    }
    let dlq_messages = streams
        .iter()
        .find(|stream| stream.name == EVENTS_DLQ_STREAM)
        .map(|stream| stream.messages);
    PipelineStatus {
        streams,
        consumers,
        dlq_messages,
        clickhouse,
        pending_erasures,
        problems,
    }
}

/// What a part found, or nothing with its problem added to `problems`.
fn found<T>(part: Result<T, String>, problems: &mut Vec<String>) -> Option<T> {
    part.map_err(|problem| problems.push(problem)).ok()
}

/// `part` within [`PART_TIMEOUT`]; its failure as a sentence naming `what`. The cause is
/// logged, not sent: it may name hosts and ports.
async fn within<T, E: std::fmt::Display>(
    what: String,
    part: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(PART_TIMEOUT, part).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(err)) => {
            tracing::warn!(part = %what, error = %err, "system status part unreadable");
            Err(format!("{what} could not be read"))
        }
        Err(_) => Err(format!(
            "{what} did not answer within {} seconds",
            PART_TIMEOUT.as_secs()
        )),
    }
}

async fn stream(js: &jetstream::Context, name: &str) -> Result<StreamStatus, String> {
    let stream = js.get_stream(name).await.map_err(|err| err.to_string())?;
    let info = stream.cached_info();
    let (state, config) = (&info.state, &info.config);
    // JetStream says -1 for "unlimited".
    let limit = |value: i64| u64::try_from(value).ok().filter(|limit| *limit > 0);
    Ok(StreamStatus {
        name: name.to_owned(),
        messages: state.messages,
        bytes: state.bytes,
        first_sequence: state.first_sequence,
        last_sequence: state.last_sequence,
        max_messages: limit(config.max_messages),
        max_bytes: limit(config.max_bytes),
        refuses_when_full: config.discard == jetstream::stream::DiscardPolicy::New,
    })
}

async fn consumer(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
) -> Result<ConsumerStatus, String> {
    let consumer = js
        .get_consumer_from_stream::<pull::Config, _, _>(name, stream)
        .await
        .map_err(|err| err.to_string())?;
    let info = consumer.cached_info();
    Ok(ConsumerStatus {
        stream: stream.to_owned(),
        name: name.to_owned(),
        pending: info.num_pending,
        ack_pending: info.num_ack_pending as u64,
        redelivered: info.num_redelivered as u64,
    })
}

async fn clickhouse(store: &Store) -> Result<ClickHouseStatus, clickhouse::error::Error> {
    let parts: Parts = store.fetch_one(events_parts(store)).await?;
    Ok(ClickHouseStatus {
        rows: parts.rows,
        bytes_on_disk: parts.bytes_on_disk,
        parts: parts.parts,
        version: parts.version,
    })
}

/// The parts statement for the events on one server or on the store's cluster, whose name
/// was checked to be plain (`plumbing::config`): the table function takes it spliced.
fn events_parts(store: &Store) -> clickhouse::query::Query {
    match store.cluster() {
        Some(cluster) => store
            .query(&CLUSTER_EVENTS_PARTS.replace("{cluster}", cluster))
            .bind(store.database()),
        None => store.query(EVENTS_PARTS),
    }
}
