//! Sending the demo traffic through edge: the write key, concurrent batches, retries.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::generate::generate;
use super::plan::Options;
use super::summary::Summary;
use super::wire::batches;

/// Requests in flight at once: enough to keep ingest busy on two cores.
const CONCURRENT_REQUESTS: usize = 4;

/// Makes up the traffic of `options.plan` and sends it through edge's SDK routes with the
/// built-in project's write key; returns what was sent once every event was accepted.
pub async fn run(options: &Options) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let (key, fresh) = write_key(&http, options).await?;
    let events = generate(&options.plan, OffsetDateTime::now_utc());
    let mut summary = Summary::of(&events);
    let batches = batches(&events, &key, options.batch_size);
    drop(events);
    summary.requests = batches.len();

    // A key issued a moment ago reaches ingest through the stream: until then it is unknown.
    let key_known_by = fresh.then(|| Instant::now() + Duration::from_secs(30));
    let sending = Instant::now();
    let mut sent = 0;
    let mut answers = futures_util::stream::iter(batches)
        .map(|batch| {
            let http = &http;
            async move {
                let url = format!("{}{}", options.url, batch.wire.path());
                send(http, &url, &batch.body, key_known_by).await?;
                anyhow::Ok(batch.events)
            }
        })
        .buffer_unordered(CONCURRENT_REQUESTS);
    while let Some(answer) = answers.next().await {
        sent += answer?;
        if options.progress {
            let rate = sent as f64 / sending.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\rdemo: {sent} / {} events sent, {rate:.0} events/s   ",
                summary.events
            );
        }
    }
    if options.progress {
        eprintln!();
    }
    anyhow::ensure!(
        sent == summary.events,
        "sent {sent} of {} events",
        summary.events
    );
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The built-in project's write key, issued first if it has none (then `true`), read with the
/// admin's session.
async fn write_key(http: &reqwest::Client, options: &Options) -> anyhow::Result<(String, bool)> {
    let login: Value = answer(
        http.post(format!("{}/api/auth/login", options.url))
            .json(&json!({ "email": options.email, "password": options.password }))
            .send()
            .await
            .with_context(|| format!("signing in at {} (is the stack running?)", options.url))?,
        &format!("signing in as {}", options.email),
    )
    .await?;
    let token = login["access_token"]
        .as_str()
        .context("the login answer holds no access token")?;
    let projects: contract::auth::ProjectList = answer(
        http.get(format!("{}/api/admin/projects", options.url))
            .bearer_auth(token)
            .send()
            .await?,
        "listing the projects",
    )
    .await?;
    let project = projects
        .projects
        .iter()
        .find(|project| project.id == contract::BUILTIN_PROJECT_ID)
        .context("the built-in project does not exist yet")?;
    if let Some(key) = project.keys.first() {
        return Ok((key.key.clone(), false));
    }
    let issued: contract::auth::WriteKeyView = answer(
        http.post(format!(
            "{}/api/admin/projects/{}/keys",
            options.url,
            contract::BUILTIN_PROJECT_ID
        ))
        .bearer_auth(token)
        .send()
        .await?,
        "issuing a write key for the built-in project",
    )
    .await?;
    Ok((issued.key, true))
}

/// The JSON of a successful answer; otherwise an error with the status and the answer's body.
async fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> anyhow::Result<T> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).with_context(|| format!("{what}: unexpected answer {text}"))
}

/// Sends one batch until it is stored: 429 and 503 are retried after their `Retry-After`, a
/// lost connection a few times, a 401 while a fresh key is not known yet; any other refusal, or
/// an event rejected inside a 200, is an error with the answer's body.
async fn send(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    key_known_by: Option<Instant>,
) -> anyhow::Result<()> {
    const ATTEMPTS: u32 = 20;
    for attempt in 1..=ATTEMPTS {
        let last = attempt == ATTEMPTS;
        let response = match http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) if !last && (err.is_connect() || err.is_timeout()) => {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                continue;
            }
            Err(err) => return Err(err).with_context(|| format!("sending a batch to {url}")),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=299 => {
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if let Some(first) = answer["rejected"].as_array().and_then(|r| r.first()) {
                    anyhow::bail!("{url} rejected events of a batch, the first: {first}");
                }
                return Ok(());
            }
            429 | 503 if !last => {
                let wait = Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 30));
                tokio::time::sleep(wait).await;
            }
            401 if key_known_by.is_some_and(|by| Instant::now() < by) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ => anyhow::bail!("{url} answered {status}: {text}"),
        }
    }
    anyhow::bail!("{url} did not store a batch after {ATTEMPTS} attempts")
}
