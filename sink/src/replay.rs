//! `sink replay [<project id>] [<since RFC 3339>]`: rebuilds `events` in ClickHouse from the
//! `EVENTS_HISTORY` stream (the history kept, by age and size), for one project or all, from a
//! time on. It reads with an ordered consumer of its own (the sink's durable consumer on
//! `EVENTS` is not involved), looks every batch up the way the sink looks up a redelivery, and
//! inserts only the events not stored: replaying twice, or while the sink runs, gives the same
//! counts. Events of erased persons are left out (and deleted from the history). On a cluster
//! it reads and writes the `Distributed` table, through the sink's own client
//! ([`crate::clickhouse_client`]), so its inserts are on their shards before it moves on.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer};
use contract::streams::EVENTS_HISTORY_STREAM;
use futures_util::StreamExt as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::erasure::arrivals::drop_from_replay;
use crate::erasure::erased::Erased;
use crate::row::EventRow;
use crate::sessions::Sessions;
use crate::table::{already_stored, insert};

/// Events looked up and inserted together.
const BATCH: usize = 20_000;

/// How long an empty stream is waited on before the replay counts as done.
const IDLE: Duration = Duration::from_secs(2);

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replayed {
    /// Messages read from the stream.
    pub read: u64,
    /// Events written to ClickHouse.
    pub inserted: u64,
    /// Events the table already held.
    pub already_stored: u64,
    /// Messages that are not events (they would be dead letters for the sink).
    pub unreadable: u64,
    /// Events of erased persons still in the history (in flight during their erasure): not
    /// inserted, and deleted from the history.
    pub erased: u64,
}

/// Replays the events of `project` (all when `None`) published since `since` (the whole stream
/// when `None`) into `clickhouse` (a client on the events database), reporting progress. The
/// erased persons' bucket, should no sink have made it yet, is made on `replicas` servers.
pub async fn replay(
    js: &jetstream::Context,
    replicas: usize,
    clickhouse: &clickhouse::Client,
    project: Option<Uuid>,
    since: Option<OffsetDateTime>,
    progress: &mut impl std::io::Write,
) -> anyhow::Result<Replayed> {
    let stream = js
        .get_stream(EVENTS_HISTORY_STREAM)
        .await
        .context("opening EVENTS_HISTORY")?;
    let reader = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: match project {
                Some(project) => format!("events.{project}.>"),
                None => "events.>".to_owned(),
            },
            deliver_policy: match since {
                Some(start_time) => consumer::DeliverPolicy::ByStartTime { start_time },
                None => consumer::DeliverPolicy::All,
            },
            ..Default::default()
        })
        .await
        .context("creating the replay consumer")?;
    let mut messages = reader.messages().await?;
    let erased = Erased::load(js.clone(), replicas)
        .await
        .context("reading the erased persons")?;
    let mut done = Replayed::default();
    let mut rows = Vec::with_capacity(BATCH);
    // Replayed events get their sessions as the sink gives them, every person looked up: the
    // sink may be running, and stored events keep their sessions.
    let mut sessions = Sessions::replaying();
    loop {
        let next = tokio::time::timeout(IDLE, messages.next()).await;
        let message = match next {
            Ok(Some(message)) => message.context("reading EVENTS_HISTORY")?,
            Ok(None) | Err(_) => break,
        };
        done.read += 1;
        let info = message
            .info()
            .map_err(|err| anyhow::anyhow!("a message without metadata: {err}"))?;
        let (sequence, pending) = (info.stream_sequence, info.pending);
        match EventRow::decode(&message.payload, sequence) {
            Ok(row) => rows.push(row),
            Err(_) => done.unreadable += 1,
        }
        if rows.len() >= BATCH || pending == 0 {
            done.erased += drop_from_replay(js, &erased, &mut rows).await?;
            store(clickhouse, &mut sessions, &mut rows, &mut done).await?;
            let _ = write!(
                progress,
                "\rread {} · inserted {} · already stored {}",
                done.read, done.inserted, done.already_stored
            );
            let _ = progress.flush();
        }
        if pending == 0 {
            break;
        }
    }
    done.erased += drop_from_replay(js, &erased, &mut rows).await?;
    store(clickhouse, &mut sessions, &mut rows, &mut done).await?;
    let _ = writeln!(progress);
    Ok(done)
}

async fn store(
    clickhouse: &clickhouse::Client,
    sessions: &mut Sessions,
    rows: &mut Vec<EventRow>,
    done: &mut Replayed,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sessions.assign(clickhouse, rows, |_| true).await?;
    let stored = already_stored(clickhouse, rows).await?;
    let before = rows.len();
    rows.retain(|row| !stored.contains(&row.event_id));
    // The stream may hold one event twice (a client resend after the duplicate window): once.
    let mut seen = std::collections::HashSet::new();
    rows.retain(|row| seen.insert(row.event_id));
    done.already_stored += (before - rows.len()) as u64;
    if !rows.is_empty() {
        insert(clickhouse, rows).await?;
        done.inserted += rows.len() as u64;
    }
    rows.clear();
    Ok(())
}
