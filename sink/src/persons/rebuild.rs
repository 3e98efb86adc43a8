//! `sink rebuild-persons`: the person mapping rebuilt from the identity links on `PERSONS`.
//! The sinks' consumer `sink-persons` is deleted (the running sinks stop applying links and
//! wait for it), `person_ids` is emptied, and the consumer is created again from its
//! definition, delivering from the first link: the running sinks apply every link again, in
//! order, and end with the same table, since applying a link depends only on the links
//! before it.
//!
//! A sink that received a link just before the consumer went is given [`GRACE`] to finish
//! writing it before the table is emptied. Do not start a sink during a rebuild: it would
//! create the consumer again too early.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use contract::streams::{PERSONS_CONSUMER, PERSONS_STREAM};

use crate::schema::Layout;
use crate::schema::persons::person_ids_storage;

/// How long a link received before the consumer was deleted may take to be written.
pub const GRACE: Duration = Duration::from_secs(10);

/// Rebuilds `person_ids` of `layout` through `server` (a client without a database
/// selected), waiting `grace` for a link in flight.
pub async fn rebuild_persons(
    js: &jetstream::Context,
    server: &clickhouse::Client,
    layout: &Layout,
    grace: Duration,
) -> anyhow::Result<()> {
    let definitions = plumbing::streams::Definitions::bundled()?;
    let consumer = definitions
        .consumers
        .iter()
        .find(|consumer| consumer.config.durable_name.as_deref() == Some(PERSONS_CONSUMER))
        .context("the bundled definitions name no sink-persons consumer")?;
    let stream = js
        .get_stream(PERSONS_STREAM)
        .await
        .context("opening PERSONS")?;
    if let Err(err) = stream.delete_consumer(PERSONS_CONSUMER).await {
        // Gone already (an earlier rebuild stopped half way): nothing to stop.
        tracing::info!(error = %err, "deleting the consumer sink-persons");
    }
    tokio::time::sleep(grace).await;
    let truncate = format!(
        "TRUNCATE TABLE {}.{}{}",
        layout.database(),
        person_ids_storage(layout.cluster()),
        layout.on_cluster()
    );
    server
        .query(&truncate)
        .execute()
        .await
        .context("emptying person_ids")?;
    js.create_consumer_on_stream(consumer.config.clone(), PERSONS_STREAM)
        .await
        .context("creating the consumer sink-persons again")?;
    Ok(())
}
