//! Before a timed phase, waiting until what the phase before started has finished: ClickHouse
//! has no merge running, and EVENTS is idle (its history has copied every message, none of the
//! sink's deliveries awaits an ack, and neither stream changed for a quarter of a second).

use std::time::{Duration, Instant};

use async_nats::jetstream;
use devstack::clickhouse::ClickHouse;

/// What changes while EVENTS is still busy.
#[derive(PartialEq, Eq)]
struct Busy {
    events: (u64, u64),
    history: (u64, u64),
    /// Messages EVENTS_HISTORY has yet to copy from EVENTS.
    lag: u64,
    /// The sink's deliveries not acked yet.
    ack_pending: usize,
}

async fn busy(js: &jetstream::Context) -> anyhow::Result<Busy> {
    let events = js.get_stream("EVENTS").await?;
    let state = events.get_info().await?.state;
    let history = js.get_stream("EVENTS_HISTORY").await?.get_info().await?;
    let ack_pending = events
        .consumer_info("sink-clickhouse")
        .await
        .map_err(|err| anyhow::anyhow!("sink-clickhouse: {err}"))?
        .num_ack_pending;
    Ok(Busy {
        events: (state.messages, state.last_sequence),
        history: (history.state.messages, history.state.last_sequence),
        lag: history.sources.iter().map(|source| source.lag).sum(),
        ack_pending,
    })
}

/// Whether `clickhouse` (if any) runs no merge and EVENTS is idle.
async fn quiet(js: &jetstream::Context, clickhouse: Option<&ClickHouse>) -> anyhow::Result<bool> {
    if let Some(clickhouse) = clickhouse {
        if clickhouse
            .query("SELECT count() FROM system.merges")?
            .trim()
            != "0"
        {
            return Ok(false);
        }
    }
    let before = busy(js).await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let after = busy(js).await?;
    Ok(before == after && after.lag == 0 && after.ack_pending == 0)
}

/// Waits (up to 5 minutes) until [`quiet`], before the phase `what`; says how long it took.
pub(crate) async fn settle(
    js: &jetstream::Context,
    clickhouse: Option<&ClickHouse>,
    what: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let waiting = format!("no ClickHouse merge and EVENTS idle, before {what}");
    devstack::wait::until_async(&waiting, Duration::from_secs(300), || async {
        quiet(js, clickhouse).await.unwrap_or(false)
    })
    .await?;
    eprintln!(
        "{what}: {:.1} s for merges and the stream to settle",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
