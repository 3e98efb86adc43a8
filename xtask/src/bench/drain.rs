//! Rows per second a durable consumer of EVENTS drains, timed the same way whoever reads it
//! (the sink, several sinks on the one consumer, the bench's bare consumers): from the first
//! message JetStream delivered to the consumer until the consumer has every message of the
//! stream acked, both as nats-server reports them in the consumer's info. Process start,
//! connecting and the sink's schema are outside the window; the read-ahead and the last
//! batch's acks are inside it, for every reader alike.

use std::time::{Duration, Instant};

use async_nats::jetstream;

use crate::launcher::Running;

/// The consumer's info is asked this often: each end of the window lies between two answers,
/// and is taken halfway, so it is off by less than half of this plus a round trip. The drains
/// take seconds; each ask costs nats-server some µs, whoever reads.
const POLL: Duration = Duration::from_millis(10);

/// A drain of `rows` messages about to start: what the consumer had delivered before it, and
/// the stream's last message, which ends it once acked.
pub(crate) struct Drain {
    stream: jetstream::stream::Stream,
    consumer: String,
    delivered_before: u64,
    last: u64,
    pub(crate) rows: usize,
}

impl Drain {
    /// Taken before any reader of `consumer` starts; the stream must not grow meanwhile.
    pub(crate) async fn before(js: &jetstream::Context, consumer: &str) -> anyhow::Result<Self> {
        let stream = js.get_stream("EVENTS").await?;
        let state = stream.get_info().await?.state;
        anyhow::ensure!(state.messages > 0, "EVENTS holds nothing to drain");
        let delivered_before = stream
            .consumer_info(consumer)
            .await
            .map_err(|err| anyhow::anyhow!("{consumer}: {err}"))?
            .delivered
            .consumer_sequence;
        Ok(Self {
            stream,
            consumer: consumer.to_owned(),
            delivered_before,
            last: state.last_sequence,
            rows: state.messages as usize,
        })
    }

    /// One poll: whether the consumer has delivered since `before`, whether it has acked the
    /// stream's last message, and when nats-server answered (the middle of the round trip).
    async fn poll(&self) -> anyhow::Result<(bool, bool, Instant)> {
        let sent = Instant::now();
        let info = self
            .stream
            .consumer_info(&self.consumer)
            .await
            .map_err(|err| anyhow::anyhow!("{}: {err}", self.consumer))?;
        Ok((
            info.delivered.consumer_sequence > self.delivered_before,
            info.ack_floor.stream_sequence >= self.last,
            sent + sent.elapsed() / 2,
        ))
    }

    /// Rows/s of the drain, once the readers (started after [`Self::before`]) acked every
    /// message. `alive` is asked at every poll and ends the wait with its error (a reader that
    /// exited); 600 s without the last ack end it too.
    pub(crate) async fn rate(
        &self,
        mut alive: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<f64> {
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut previous: Option<Instant> = None;
        let mut first = None;
        loop {
            let (delivered, acked, seen) = self.poll().await?;
            // Halfway between the answer that did not show it yet and the one that did.
            let halfway = |before: Option<Instant>| before.map_or(seen, |at| at + (seen - at) / 2);
            if delivered && first.is_none() {
                first = Some(halfway(previous));
            }
            if let (Some(first), true) = (first, acked) {
                let secs = (halfway(previous) - first).as_secs_f64();
                return Ok(self.rows as f64 / secs.max(POLL.as_secs_f64()));
            }
            alive()?;
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} stalled: its last message was not acked within 600 s",
                self.consumer
            );
            previous = Some(seen);
            tokio::time::sleep(POLL).await;
        }
    }
}

/// An error naming the first of `readers` (sink processes) that exited, with its log.
pub(crate) fn still_running(readers: &mut [Running]) -> anyhow::Result<()> {
    for reader in readers {
        anyhow::ensure!(
            reader.process.exit_status().is_none(),
            "{} exited while draining the stream; see {}",
            reader.name,
            reader.log.display()
        );
    }
    Ok(())
}
