//! Rows per second one or several sinks insert, from the sum of their own counters, timed from
//! the first batch any of them stored.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::launcher::Running;

/// What the sink on `port` has inserted so far, from `sink_rows_inserted_total`; 0 while it
/// does not answer.
fn inserted(port: u16) -> usize {
    devstack::http::get(port, "/metrics", Duration::from_secs(2))
        .ok()
        .and_then(|response| {
            response.body.lines().find_map(|line| {
                line.strip_prefix("sink_rows_inserted_total ")
                    .and_then(|n| n.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Rows per second `sinks` (listening on `ports`, in the same order) insert together: from
/// the first batch any of them stored (process start and connecting excluded) until they
/// stored all `rows` between them.
pub(crate) fn sink_rate(sinks: &mut [Running], ports: &[u16], rows: usize) -> anyhow::Result<f64> {
    // Polled every 25 ms: the drain takes seconds, so each end is off by under 1 % of it, and
    // rendering `/metrics` costs the sink about 1 % of its CPU (every 5 ms, it cost 6 %).
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = None;
    loop {
        let n: usize = ports.iter().map(|&port| inserted(port)).sum();
        if n > 0 && first.is_none() {
            first = Some((Instant::now(), n));
        }
        if n >= rows {
            break;
        }
        for sink in sinks.iter_mut() {
            anyhow::ensure!(
                sink.process.exit_status().is_none() && Instant::now() < deadline,
                "the sinks stopped or stalled at {n} of {rows} rows; see {}",
                sink.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let (started, already) = first.context("the sinks stored nothing")?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(already < rows, "one batch held every row; use more rows");
    Ok((rows - already) as f64 / elapsed)
}
