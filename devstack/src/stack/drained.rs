//! Waiting for the sink to have taken every event on the stream, so that a count of stored rows
//! is final.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::Config;
use contract::streams::{EVENTS_STREAM, SINK_CONSUMER};

use super::TestStack;

impl TestStack {
    /// Waits until the sink's consumer has no message of `EVENTS` left to deliver or to be
    /// acked: every event published so far is stored (or dead-lettered), so no more arrive.
    pub async fn sink_drained(&self, timeout: Duration) -> anyhow::Result<()> {
        let client =
            plumbing::streams::connect(&self.nats_url_for(crate::nats::NatsUser::Operator)).await?;
        let js = async_nats::jetstream::new(client);
        crate::wait::until_async("the sink has taken every event", timeout, || async {
            let Ok(mut consumer) = js
                .get_consumer_from_stream::<Config, _, _>(SINK_CONSUMER, EVENTS_STREAM)
                .await
            else {
                return false;
            };
            consumer
                .info()
                .await
                .is_ok_and(|info| info.num_pending == 0 && info.num_ack_pending == 0)
        })
        .await
    }
}
