//! Pacing: JetStream acks an import far faster than the sink stores events, and `EVENTS`
//! refuses new messages once full (`discard: new`), live ones too. So the import reads the
//! stream's bytes every so often and waits while the backlog is above a share of its limit.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;

/// Records published between two looks at the backlog.
pub const CHECK_EVERY: u64 = 5_000;

/// Whether `bytes` held by a stream of at most `max_bytes` (-1 or 0: no limit) is above
/// `percent` of it.
fn over(bytes: u64, max_bytes: i64, percent: u8) -> bool {
    match u64::try_from(max_bytes) {
        Ok(max) if max > 0 => bytes.saturating_mul(100) > max.saturating_mul(u64::from(percent)),
        _ => false,
    }
}

/// Waits while `EVENTS` holds more than `percent` of its `max_bytes`, saying so once to `say`.
pub(crate) async fn wait_for_sink(
    js: &jetstream::Context,
    percent: u8,
    say: &mut impl FnMut(&str),
) -> anyhow::Result<()> {
    let mut stream = js
        .get_stream(contract::streams::EVENTS_STREAM)
        .await
        .context("reading the EVENTS stream")?;
    let mut said = false;
    loop {
        let info = stream.info().await.context("reading the EVENTS stream")?;
        let (bytes, max) = (info.state.bytes, info.config.max_bytes);
        if !over(bytes, max, percent) {
            return Ok(());
        }
        if !said {
            say(&format!(
                "waiting for the sink: EVENTS holds {} MB, over {percent}% of its {} MB",
                bytes / 1_000_000,
                max / 1_000_000
            ));
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_is_over_its_share_of_the_stream_limit() {
        assert!(!over(1_000, 4_000, 25));
        assert!(over(1_001, 4_000, 25));
        assert!(!over(u64::MAX, -1, 25), "no limit, no wait");
        assert!(!over(u64::MAX, 0, 25));
        assert!(over(1, 4_000, 0));
    }
}
