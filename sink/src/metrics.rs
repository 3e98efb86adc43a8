//! What the sink counts and the stream figures it follows, registered on the service's
//! `/metrics`.

use std::time::Duration;

use plumbing::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// What the sink counts.
#[derive(Debug, Clone)]
pub(crate) struct SinkCounters {
    pub(crate) rows_inserted: Counter<u64>,
    pub(crate) dead_lettered: Counter<u64>,
    pub(crate) insert_failures: Counter<u64>,
    /// Redelivered rows found already stored, acked without being written again.
    pub(crate) already_stored: Counter<u64>,
    /// Rows looked up in the table before an insert, because they may already be stored (late,
    /// imported or redelivered rows; every row of a retried insert). First deliveries are not.
    pub(crate) rows_looked_up: Counter<u64>,
    /// Persons looked up in ClickHouse to give their new events sessions (not remembered, a
    /// late event, a session start, or a row that may already be stored).
    pub(crate) session_persons_looked_up: Counter<u64>,
    /// Rows per successful INSERT.
    pub(crate) batch_rows: Histogram,
    /// Seconds from the start of a batch's write (lookup included) to ClickHouse's confirmation.
    pub(crate) insert_seconds: Histogram,
}

impl Default for SinkCounters {
    fn default() -> Self {
        Self {
            rows_inserted: Counter::default(),
            dead_lettered: Counter::default(),
            insert_failures: Counter::default(),
            already_stored: Counter::default(),
            rows_looked_up: Counter::default(),
            session_persons_looked_up: Counter::default(),
            batch_rows: Histogram::new(exponential_buckets(1.0, 4.0, 10)),
            insert_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
        }
    }
}

impl SinkCounters {
    pub(crate) fn register(&self, metrics: &Metrics) {
        metrics.register(
            "rows_inserted",
            "Rows inserted into ClickHouse",
            self.rows_inserted.clone(),
        );
        metrics.register(
            "dead_lettered",
            "Events moved to EVENTS_DLQ",
            self.dead_lettered.clone(),
        );
        metrics.register(
            "insert_failures",
            "Batch inserts ClickHouse refused or did not confirm",
            self.insert_failures.clone(),
        );
        metrics.register(
            "already_stored",
            "Redelivered events found already stored and acked without a second write",
            self.already_stored.clone(),
        );
        metrics.register(
            "rows_looked_up",
            "Rows looked up in ClickHouse before an insert because they may already be stored",
            self.rows_looked_up.clone(),
        );
        metrics.register(
            "session_persons_looked_up",
            "Persons looked up in ClickHouse to give their new events sessions",
            self.session_persons_looked_up.clone(),
        );
        metrics.register(
            "batch_rows",
            "Rows per successful ClickHouse INSERT",
            self.batch_rows.clone(),
        );
        metrics.register(
            "insert_seconds",
            "Time to write one batch, lookup included, until ClickHouse confirmed",
            self.insert_seconds.clone(),
        );
    }
}

/// What the operator watches on the streams, read from JetStream every few seconds.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamGauges {
    /// Messages of `EVENTS` the sink's consumer has not been given yet.
    pending: Gauge,
    /// Messages given to the sink and not acked yet.
    ack_pending: Gauge,
    /// Messages given more than once and not acked yet.
    redelivered: Gauge,
    /// Messages in `EVENTS_DLQ`.
    dlq: Gauge,
}

impl StreamGauges {
    pub(crate) fn register(&self, metrics: &Metrics) {
        for (name, help, gauge) in [
            (
                "consumer_pending",
                "Messages of EVENTS the sink has not been given yet",
                &self.pending,
            ),
            (
                "consumer_ack_pending",
                "Messages given to the sink and not acked yet",
                &self.ack_pending,
            ),
            (
                "consumer_redelivered",
                "Messages given more than once and not acked yet",
                &self.redelivered,
            ),
            ("dlq_messages", "Messages in EVENTS_DLQ", &self.dlq),
        ] {
            metrics.register(name, help, gauge.clone());
        }
    }

    /// Reads the consumer and the DLQ every 5 s, for the life of the process.
    pub(crate) async fn follow(self, js: async_nats::jetstream::Context) {
        let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        loop {
            if let Ok(mut consumer) = js
                .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                    contract::streams::SINK_CONSUMER,
                    contract::streams::EVENTS_STREAM,
                )
                .await
                && let Ok(info) = consumer.info().await
            {
                self.pending.set(as_gauge(info.num_pending));
                self.ack_pending.set(as_gauge(info.num_ack_pending as u64));
                self.redelivered.set(as_gauge(info.num_redelivered as u64));
            }
            if let Ok(mut dlq) = js.get_stream(contract::streams::EVENTS_DLQ_STREAM).await
                && let Ok(info) = dlq.info().await
            {
                self.dlq.set(as_gauge(info.state.messages));
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
}
