//! The load generator: keep-alive HTTP clients posting PostHog batches (closed loop, or paced on
//! a schedule), and the raw limit publishing the same events straight to JetStream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use contract::event::{Event, EventContext, EventKind};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;

use super::backpressure::{Answer, Counts, FIRST_PAUSE, RETRIES, STALLED};
use super::load::Load;

/// The write key of the bench's project.
pub(crate) const KEY: &str = "ea_benchmark_key";
/// Keep-alive clients sending batches: a few servers flushing their SDKs' queues.
pub(crate) const CLIENTS: usize = 8;
/// Keep-alive clients sending one event per request: many browsers at once. Eight closed-loop
/// clients cannot keep the stack busy with requests this small (each waits a round trip of
/// about a millisecond between requests), so they would measure the clients, not the stack.
pub(crate) const SINGLE_CLIENTS: usize = 64;
/// Requests a paced load keeps in flight at most. When the stack falls behind, a request due
/// meanwhile waits for one to finish (its latency still counts from when it was due) instead
/// of opening yet another connection: unbounded, a stall on a busy machine opened thousands
/// until edge ran out of file descriptors, stopped accepting, and the load never finished.
const MAX_IN_FLIGHT: usize = 1_024;

/// A PostHog batch body of `events` fresh events named `name`.
pub(crate) fn posthog_body(events: usize, name: &str) -> String {
    let batch: Vec<Value> = (0..events)
        .map(|i| {
            json!({
                "uuid": Uuid::now_v7().to_string(),
                "event": name,
                "distinct_id": format!("user-{}", i % 97),
                "properties": { "$current_url": "https://shop.example/products/42", "$lib": "web", "plan": "pro" }
            })
        })
        .collect();
    json!({ "api_key": KEY, "batch": batch }).to_string()
}

/// `requests` PostHog bodies of `events` `$pageview`s each.
pub(crate) fn pageviews(requests: usize, events: usize) -> Vec<String> {
    (0..requests)
        .map(|_| posthog_body(events, "$pageview"))
        .collect()
}

/// One keep-alive HTTP/1.1 connection that posts JSON bodies to one URL, on hyper's connection
/// API: the load generator spends little CPU per request (reqwest parses the URL and checks a
/// connection out of its pool for each), which on this machine is CPU the stack does not get.
struct Poster {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    path: String,
    host: String,
}

impl Poster {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = url.parse()?;
        let host = uri.authority().context("a URL with a host")?.to_string();
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, path, host })
    }

    /// `count` connections to `url`.
    async fn connect_many(url: &str, count: usize) -> anyhow::Result<Vec<Self>> {
        let mut posters = Vec::with_capacity(count);
        for _ in 0..count {
            posters.push(Self::connect(url).await?);
        }
        Ok(posters)
    }

    /// Posts `body`; the answer's status, its body read to the end.
    async fn post(&mut self, body: Bytes) -> anyhow::Result<hyper::StatusCode> {
        self.sender.ready().await?;
        let request = hyper::Request::post(&self.path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let answer = self.sender.send_request(request).await?;
        let status = answer.status();
        answer.into_body().collect().await?;
        Ok(status)
    }
}

/// The CPU seconds this process (the load generator) has used so far.
pub(crate) fn own_cpu_seconds() -> f64 {
    devstack::process::cpu_seconds_of(std::process::id()).unwrap_or(0.0)
}

/// Posts `body` until it is accepted, counting each answer in `counts` (`started` is when the
/// load began): a 503 or 429 is sent again after a pause that doubles, as an SDK retries, and
/// after `RETRIES` retries the request counts as not sent (false). Any other answer that is not
/// 2xx is an error: it is not backpressure; so is nothing accepted for `STALLED`.
async fn deliver(
    poster: &mut Poster,
    body: Bytes,
    counts: &Counts,
    started: Instant,
) -> anyhow::Result<bool> {
    let mut pause = FIRST_PAUSE;
    for retry in 0..=RETRIES {
        let status = poster.post(body.clone()).await?;
        match counts.record(status.as_u16(), started.elapsed()) {
            Answer::Accepted => return Ok(true),
            Answer::Refused => anyhow::bail!("ingest answered {status}"),
            Answer::Backpressure if retry < RETRIES => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Answer::Backpressure => {}
        }
    }
    counts.not_sent();
    ensure_flowing(counts, started.elapsed())?;
    Ok(false)
}

/// An error once the load had nothing accepted for `STALLED`, `at` into it.
pub(crate) fn ensure_flowing(counts: &Counts, at: Duration) -> anyhow::Result<()> {
    anyhow::ensure!(
        !counts.stalled(at),
        "nothing accepted for {} s, every request answered 503 or 429 past its retries: the stack stopped, not pushing back",
        STALLED.as_secs()
    );
    Ok(())
}

/// The counts of a load that took `elapsed`, printed when it met any 503 or 429.
fn finish(counts: &Counts, elapsed: Duration) -> super::backpressure::Backpressure {
    let b = counts.finish(elapsed);
    if b.answers() > 0 {
        eprintln!(
            "  backpressure: {} × 503, {} × 429, the first {:.1} s in, {:.2}/s; {} requests not sent",
            b.unavailable,
            b.too_many,
            b.first_secs.unwrap_or(0.0),
            b.per_sec(),
            b.not_sent
        );
    }
    b
}

/// `clients` keep-alive clients send `bodies`; a 503 or 429 is retried (see `deliver`), any
/// other answer that is not 2xx ends the load with an error.
pub(crate) async fn http_load(
    url: &str,
    bodies: Vec<String>,
    events_per_body: usize,
    clients: usize,
) -> anyhow::Result<Load> {
    let count = bodies.len();
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let posters = Poster::connect_many(url, clients).await?;
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let workers: Vec<_> = posters
        .into_iter()
        .map(|mut poster| {
            let (queue, counts) = (Arc::clone(&queue), Arc::clone(&counts));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(body) = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop()
                    else {
                        return anyhow::Ok(latencies);
                    };
                    let sent = Instant::now();
                    if deliver(&mut poster, Bytes::from(body), &counts, started).await? {
                        latencies.push(sent.elapsed());
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed();
    Ok(Load {
        backpressure: finish(&counts, elapsed),
        ..Load::of(elapsed, latencies, events_per_body)
    })
}

/// What a paced load sent: the load, and when each accepted request (by index) was answered.
pub(crate) struct PacedRun {
    pub(crate) load: Load,
    pub(crate) acked: Vec<(usize, Instant)>,
}

/// Sends `body(i)` to `url` at `requests_per_sec` for `duration`, each request on its own
/// task, on a keep-alive connection that is free at the time or else a new one; a 503 or 429
/// is retried (see `deliver`), any other answer that is not 2xx ends the load with an error.
pub(crate) async fn paced_load(
    url: &str,
    requests_per_sec: f64,
    duration: Duration,
    events_per_request: usize,
    body: impl Fn(usize) -> String,
) -> anyhow::Result<PacedRun> {
    let interval = Duration::from_secs_f64(1.0 / requests_per_sec.max(1.0));
    let count = (duration.as_secs_f64() * requests_per_sec) as usize;
    // Connections with no request on them; as many as the single-event clients to start with,
    // so none is opened in the middle of the run unless the stack falls behind.
    let free = Arc::new(std::sync::Mutex::new(
        Poster::connect_many(url, SINGLE_CLIENTS).await?,
    ));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for request in 0..count {
        let due = started + interval.mul_f64(request as f64);
        tokio::time::sleep_until(due.into()).await;
        let request_body = Bytes::from(body(request));
        let (free, url) = (Arc::clone(&free), url.to_owned());
        let (in_flight, counts) = (Arc::clone(&in_flight), Arc::clone(&counts));
        tasks.push(tokio::spawn(async move {
            let _slot = in_flight.acquire().await?;
            let taken = free.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut poster = match taken {
                Some(poster) => poster,
                None => Poster::connect(&url).await?,
            };
            let accepted = deliver(&mut poster, request_body, &counts, started).await?;
            let acked = Instant::now();
            free.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(poster);
            anyhow::Ok(accepted.then(|| (request, acked, acked.duration_since(due))))
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    let mut acked = Vec::with_capacity(count);
    for task in tasks {
        if let Some((request, at, latency)) = task.await?? {
            latencies.push(latency);
            acked.push((request, at));
        }
    }
    let elapsed = started.elapsed();
    Ok(PacedRun {
        load: Load {
            backpressure: finish(&counts, elapsed),
            ..Load::of(elapsed, latencies, events_per_request)
        },
        acked,
    })
}

/// The limit: the same number of normalised events published straight to JetStream by
/// `clients` tasks, each publishing a batch and then awaiting all its acks.
pub(crate) async fn raw_load(
    js: &jetstream::Context,
    requests: usize,
    events_per_request: usize,
    clients: usize,
) -> anyhow::Result<Load> {
    let remaining = Arc::new(AtomicUsize::new(requests));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (js, remaining) = (js.clone(), Arc::clone(&remaining));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while remaining
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let sent = Instant::now();
                    let mut acks = Vec::with_capacity(events_per_request);
                    for _ in 0..events_per_request {
                        let event = sample_event();
                        let message = jetstream::message::PublishMessage::build()
                            .payload(serde_json::to_vec(&event)?.into())
                            .message_id(event.event_id.to_string());
                        acks.push(
                            js.send_publish(format!("bench.{}", event.project_id), message)
                                .await?,
                        );
                    }
                    for ack in acks {
                        ack.await?;
                    }
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(Load::of(started.elapsed(), latencies, events_per_request))
}

/// One normalised `$pageview`, as ingest would publish it.
pub(crate) fn sample_event() -> Event {
    let now = time::OffsetDateTime::now_utc();
    let mut properties = serde_json::Map::new();
    properties.insert("plan".to_owned(), json!("pro"));
    Event {
        event_id: Uuid::now_v7(),
        project_id: Uuid::nil(),
        kind: EventKind::Page,
        event: "$pageview".to_owned(),
        distinct_id: "user-1".to_owned(),
        user_id: None,
        session_id: None,
        timestamp: now,
        received_at: now,
        properties,
        context: EventContext {
            url: "https://shop.example/products/42".to_owned(),
            host: "shop.example".to_owned(),
            path: "/products/42".to_owned(),
            lib: "web".to_owned(),
            ..EventContext::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A keep-alive HTTP server on a free port answering `statuses` in turn, then 200; its URL.
    async fn server(statuses: Vec<u16>) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/batch/", listener.local_addr()?);
        let answered = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (statuses, answered) = (statuses.clone(), Arc::clone(&answered));
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while let Ok(read) = stream.read(&mut buffer).await {
                        if read == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buffer[..read]);
                        let text = String::from_utf8_lossy(&seen).to_string();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let length: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        if seen.len() < end + 4 + length {
                            continue;
                        }
                        seen.drain(..end + 4 + length);
                        let n = answered.fetch_add(1, Ordering::SeqCst);
                        let status = statuses.get(n).copied().unwrap_or(200);
                        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(url)
    }

    fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?)
    }

    #[test]
    fn a_load_retries_503_and_429_counts_them_and_carries_on() -> anyhow::Result<()> {
        runtime()?.block_on(async {
            let url = server(vec![503, 429, 503]).await?;
            let load = http_load(&url, pageviews(4, 1), 1, 1).await?;
            let b = load.backpressure;
            assert_eq!((b.unavailable, b.too_many, b.not_sent), (2, 1, 0));
            assert!(b.first_secs.is_some());
            // Every request was accepted in the end: 4 events over the load's time.
            assert!((load.events_per_sec * b.elapsed_secs - 4.0).abs() < 0.01);
            // Refused past its retries, a request counts as not sent, and its events in no figure.
            let url = server(vec![503; 6]).await?;
            let load = http_load(&url, pageviews(1, 1), 1, 1).await?;
            assert_eq!(
                (load.backpressure.unavailable, load.backpressure.not_sent),
                (6, 1)
            );
            assert_eq!(load.events_per_sec, 0.0);
            anyhow::Ok(())
        })
    }

    #[test]
    fn any_other_refusal_ends_the_load() -> anyhow::Result<()> {
        runtime()?.block_on(async {
            let url = server(vec![400]).await?;
            let err = http_load(&url, pageviews(1, 1), 1, 1).await;
            assert!(err.is_err_and(|e| e.to_string().contains("400")));
            let url = server(vec![500]).await?;
            assert!(http_load(&url, pageviews(1, 1), 1, 1).await.is_err());
            anyhow::Ok(())
        })
    }
}
