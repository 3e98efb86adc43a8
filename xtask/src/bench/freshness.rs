//! Freshness: the time from the 2xx at ingest until the query API counts the event, with the
//! whole pipeline running and the query API polled through edge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use uuid::Uuid;

use super::backpressure::Backpressure;
use super::load::percentile_ms;
use super::send::{paced_load, posthog_body};

/// Time from the 2xx at ingest until the query API counts the event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Freshness {
    pub(crate) events_per_sec: f64,
    pub(crate) events: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// Mean time between the starts of two polls of the query API.
    pub(crate) poll_interval_ms: f64,
    /// The 503s and 429s the sending met; the figures count accepted requests only.
    pub(crate) backpressure: Backpressure,
}

const PER_REQUEST: usize = 10;

/// One poll of the query API: when it started, when it ended, the count of each event name.
type Poll = (Instant, Instant, HashMap<String, u64>);

/// Every marker with the events it must count, set once sending has ended.
type Expected = Arc<Mutex<Option<HashMap<String, u64>>>>;

/// Freshness at `rate` events/s for `duration`: 10-event requests on a fixed schedule to `url`,
/// each 100 ms of sending under an event name of its own (a marker), while one client polls the
/// query API through `edge` (`/api/query/top?dimension=event`) back to back. An event counts
/// as fresh at the end of the first poll that counted every event of its marker; its
/// freshness is that instant minus the 2xx of its request. So a figure is an upper bound, by
/// at most one poll.
pub(crate) async fn measure(
    url: &str,
    edge: &str,
    token: &str,
    project: Uuid,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Freshness> {
    let requests_per_marker = ((rate / PER_REQUEST as f64) / 10.0).max(1.0) as usize;
    let marker = |request: usize| format!("fresh_{}", request / requests_per_marker);
    let today = time::OffsetDateTime::now_utc().date();
    let poll_url = format!(
        "{edge}/api/query/top?project_id={project}&from={}&to={}&dimension=event&limit=1000",
        today - time::Duration::days(1),
        today + time::Duration::days(1),
    );
    let expected: Expected = Arc::new(Mutex::new(None));
    let poller = poll_until_counted(poll_url, token.to_owned(), Arc::clone(&expected));
    let sent = paced_load(
        url,
        rate / PER_REQUEST as f64,
        duration,
        PER_REQUEST,
        |request| posthog_body(PER_REQUEST, &marker(request)),
    )
    .await?;
    let mut all = HashMap::<String, u64>::new();
    for (request, _) in &sent.acked {
        *all.entry(marker(*request)).or_default() += PER_REQUEST as u64;
    }
    let expected_markers = all.clone();
    *expected.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Some(all);
    let polls = poller.await??;
    let expected = expected_markers;
    // When each marker was first counted in full.
    let seen: HashMap<&String, Instant> = expected
        .iter()
        .filter_map(|(name, n)| {
            polls
                .iter()
                .find(|(_, _, counts)| counts.get(name).is_some_and(|c| c >= n))
                .map(|(_, ended, _)| (name, *ended))
        })
        .collect();
    anyhow::ensure!(
        seen.len() == expected.len(),
        "{} of {} markers never counted in full",
        expected.len() - seen.len(),
        expected.len()
    );
    let mut ages: Vec<Duration> = sent
        .acked
        .iter()
        .map(|(request, acked)| seen[&marker(*request)].saturating_duration_since(*acked))
        .collect();
    ages.sort();
    Ok(Freshness {
        events_per_sec: sent.load.events_per_sec,
        events: sent.acked.len() * PER_REQUEST,
        p50_ms: percentile_ms(&ages, 0.50),
        p99_ms: percentile_ms(&ages, 0.99),
        max_ms: percentile_ms(&ages, 1.0),
        poll_interval_ms: mean_interval_ms(&polls),
        backpressure: sent.load.backpressure,
    })
}

/// Polls `poll_url` back to back until a poll counts every event `expected` names (once it is
/// set), at most 60 s after that; every poll, in order.
fn poll_until_counted(
    poll_url: String,
    token: String,
    expected: Expected,
) -> JoinHandle<anyhow::Result<Vec<Poll>>> {
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        let mut polls: Vec<Poll> = Vec::new();
        let mut deadline = None;
        loop {
            let started = Instant::now();
            let response = http.get(&poll_url).bearer_auth(&token).send().await?;
            anyhow::ensure!(
                response.status() == 200,
                "top answered {}",
                response.status()
            );
            let top: contract::query::TopResponse = response.json().await?;
            let counts: HashMap<String, u64> =
                top.values.into_iter().map(|v| (v.value, v.count)).collect();
            let all_counted = expected
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .as_ref()
                .map(|expected: &HashMap<String, u64>| {
                    expected
                        .iter()
                        .all(|(name, n)| counts.get(name).is_some_and(|c| c >= n))
                });
            polls.push((started, Instant::now(), counts));
            match all_counted {
                Some(true) => return anyhow::Ok(polls),
                Some(false) => {
                    let deadline =
                        *deadline.get_or_insert(Instant::now() + Duration::from_secs(60));
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "events not counted by the query API 60 s after they were sent"
                    );
                }
                None => {}
            }
        }
    })
}

/// Mean time between the starts of two polls, ms; 0 for fewer than two.
fn mean_interval_ms(polls: &[Poll]) -> f64 {
    match (polls.first(), polls.last()) {
        (Some(first), Some(last)) if polls.len() > 1 => {
            last.0.duration_since(first.0).as_secs_f64() * 1000.0 / (polls.len() - 1) as f64
        }
        _ => 0.0,
    }
}
