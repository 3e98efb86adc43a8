//! What every intake route does around its wire format: reading the body within its limits,
//! finding each event's project by its write key, then storing the valid events and counting
//! them.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use contract::event::{Event, Rejected};

use crate::body::{MAX_RAW_BYTES, decode_within};
use crate::enrich::acquisition;
use crate::enrich::place::Places;
use crate::enrich::user_agent::UserAgents;
use crate::error::IngestError;
use crate::extract::Client;
use crate::publish::encode::Encoded;
use crate::publish::jetstream::{Trace, publish};
use crate::state::AppState;

/// The JSON text of a request, at most `max_bytes` once decoded: read within the wire limit,
/// ungzipped, unwrapped from forms.
pub(super) async fn read_json(body: Body, max_bytes: usize) -> Result<Vec<u8>, IngestError> {
    Ok(decode_within(&read_limited(body).await?, max_bytes)?)
}

/// Reads at most [`MAX_RAW_BYTES`]. An oversized body is read on (and dropped) up to a bound,
/// so the client, still sending, gets the 413 instead of a broken connection.
async fn read_limited(body: Body) -> Result<Vec<u8>, IngestError> {
    use futures_util::StreamExt as _;

    const DRAIN_BYTES: usize = 16 * MAX_RAW_BYTES;
    let mut stream = body.into_data_stream();
    let mut raw = Vec::new();
    let mut seen = 0_usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| IngestError::BadRequest("the body could not be read".to_owned()))?;
        seen += chunk.len();
        if seen <= MAX_RAW_BYTES {
            raw.extend_from_slice(&chunk);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    if seen > MAX_RAW_BYTES {
        return Err(IngestError::TooLarge(format!(
            "the body is larger than {MAX_RAW_BYTES} bytes"
        )));
    }
    Ok(raw)
}

/// The request id and trace context the request came with.
fn trace_of(headers: &HeaderMap) -> Trace {
    let text = |name: &axum::http::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    Trace {
        request_id: text(&plumbing::http::REQUEST_ID),
        traceparent: text(&plumbing::http::TRACEPARENT),
    }
}

/// The project of each event's write key (`None`: the event names none), in order. A batch
/// names one key, so the last key's project is kept at hand instead of looked up for every
/// event.
pub(super) fn projects_of<'k>(
    state: &AppState,
    keys: impl ExactSizeIterator<Item = Option<&'k str>>,
) -> Result<Vec<uuid::Uuid>, IngestError> {
    let mut projects = Vec::with_capacity(keys.len());
    let mut last: Option<(&str, uuid::Uuid)> = None;
    for key in keys {
        let key = key.ok_or(IngestError::UnknownKey)?;
        let project_id = match last {
            Some((last_key, project_id)) if last_key == key => project_id,
            _ => {
                let project_id = state
                    .write_keys
                    .project(key)
                    .ok_or(IngestError::UnknownKey)?;
                last = Some((key, project_id));
                project_id
            }
        };
        projects.push(project_id);
    }
    Ok(projects)
}

/// Publishes the valid events and returns the invalid ones, each with its index and the
/// reason; a request with nothing valid is a 400 that names the first problem. The valid ones
/// are charged to their projects' quotas (and a dashboard `user`'s byte budget) first: over
/// one, nothing is published.
pub(super) async fn accept(
    state: &AppState,
    route: &'static str,
    outcomes: Vec<Result<Event, String>>,
    client: &Client,
    user: Option<uuid::Uuid>,
) -> Result<Vec<Rejected>, IngestError> {
    let request_agent = client
        .headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let mut batch = Encoded::with_capacity(outcomes.len());
    let mut agents = UserAgents::default();
    let mut places = Places::new(state.geoip.as_ref());
    let mut rejected = Vec::new();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(mut event) => {
                agents.enrich(&mut event, request_agent);
                places.enrich(&mut event, client.ip);
                acquisition::enrich(&mut event);
                if let Err(error) = batch.push(&event) {
                    rejected.push(Rejected { index, error });
                }
            }
            Err(error) => rejected.push(Rejected { index, error }),
        }
    }
    state.metrics.count(route, "rejected", rejected.len());
    if batch.is_empty() {
        let first = rejected
            .first()
            .map_or("the request holds no event", |r| r.error.as_str());
        return Err(IngestError::BadRequest(format!("no valid event: {first}")));
    }
    let accepted = batch.len();
    // EVENTS keeps a message only for the consumers it has: published before the sink's
    // consumer exists (the first start, or NATS being set up again), an event would reach the
    // history but never ClickHouse. Refuse it like any moment JetStream cannot take it.
    if !state.jetstream.is_provisioned() {
        state.metrics.count(route, "unavailable", accepted);
        return Err(IngestError::Unavailable(
            "the streams are not provisioned yet".to_owned(),
        ));
    }
    state
        .quotas
        .charge(&state.write_keys, batch.usage(), user)
        .inspect_err(|_| state.metrics.count(route, "over_quota", accepted))?;
    publish(&state.publisher, batch, &trace_of(&client.headers))
        .await
        .inspect_err(|_| state.metrics.count(route, "unavailable", accepted))?;
    state.metrics.count(route, "accepted", accepted);
    Ok(rejected)
}
