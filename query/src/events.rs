//! The explorer: stored events newest first, a page at a time (or all of them as a streamed
//! CSV), and one event in full. The cursor is the position of the last event returned (time
//! and id), so a page never shifts when new events arrive.

use axum::body::Bytes;
use axum::response::Response;
use clickhouse::Row;
use contract::query::{EventResponse, EventView, EventViewContext, EventsPage};
use futures_util::StreamExt as _;
use serde::Deserialize;
use uuid::Uuid;

use crate::csv::tables::{EVENT_HEADER, event_fields};
use crate::error::Error;
use crate::scope::Scope;
use crate::store::Store;

/// The columns of one event, in the order of [`StoredEvent`].
pub(crate) const EVENT_COLUMNS: &str = "event_id, event, kind, distinct_id, user_id, session_id, \
     toUInt32(timestamp) AS timestamp, toUInt32(received_at) AS received_at, url, host, path, \
     referrer, referrer_domain, browser, os, device_type, lib, prop_keys, prop_values";

/// One page request, checked.
#[derive(Debug)]
pub(crate) struct PageRequest {
    /// Only events of this name.
    pub(crate) event: Option<String>,
    /// Only events of this user.
    pub(crate) distinct_id: Option<String>,
    pub(crate) limit: usize,
    /// Where the previous page ended: its last event's time (seconds) and id.
    pub(crate) cursor: Option<(u32, Uuid)>,
}

/// A `cursor` parameter, as [`page`] returns it in `next_cursor`.
pub(crate) fn parse_cursor(text: &str) -> Result<(u32, Uuid), Error> {
    let bad = || Error::Invalid("cursor is not one this API returned".to_owned());
    let (seconds, id) = text.split_once('_').ok_or_else(bad)?;
    Ok((
        seconds.parse().map_err(|_| bad())?,
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}

/// One stored event, as the explorer shows it.
#[derive(Debug, Row, Deserialize)]
pub(crate) struct StoredEvent {
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    event: String,
    kind: String,
    distinct_id: String,
    user_id: String,
    session_id: String,
    timestamp: u32,
    received_at: u32,
    url: String,
    host: String,
    path: String,
    referrer: String,
    referrer_domain: String,
    browser: String,
    os: String,
    device_type: String,
    lib: String,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

impl StoredEvent {
    /// The `next_cursor` of a page that ends with this event.
    pub(crate) fn cursor(&self) -> String {
        format!("{}_{}", self.timestamp, self.event_id)
    }

    pub(crate) fn view(self) -> EventView {
        let time = |seconds: u32| {
            jiff::Timestamp::from_second(i64::from(seconds))
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        EventView {
            event_id: self.event_id,
            event: self.event,
            kind: self.kind,
            distinct_id: self.distinct_id,
            user_id: (!self.user_id.is_empty()).then_some(self.user_id),
            session_id: (!self.session_id.is_empty()).then_some(self.session_id),
            timestamp: time(self.timestamp),
            received_at: time(self.received_at),
            properties: self.prop_keys.into_iter().zip(self.prop_values).collect(),
            context: EventViewContext {
                url: self.url,
                host: self.host,
                path: self.path,
                referrer: self.referrer,
                referrer_domain: self.referrer_domain,
                browser: self.browser,
                os: self.os,
                device_type: self.device_type,
                lib: self.lib,
            },
        }
    }
}

/// A page of the scope's events, newest first.
pub(crate) async fn page(
    store: &Store,
    scope: &Scope,
    request: PageRequest,
) -> Result<EventsPage, Error> {
    let limit = request.limit;
    let query = statement(store, scope, &request, Some(limit));
    let rows: Vec<StoredEvent> = store.fetch_all(query).await?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(StoredEvent::cursor))
        .flatten();
    Ok(EventsPage {
        scope: scope.to_wire(),
        events: rows.into_iter().map(StoredEvent::view).collect(),
        next_cursor: next,
    })
}

/// The statement of the scope's events that `request` asks for, newest first, `limit` of them
/// (every one when `None`).
fn statement(
    store: &Store,
    scope: &Scope,
    request: &PageRequest,
    limit: Option<usize>,
) -> clickhouse::query::Query {
    let mut text = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {}",
        scope.where_sql()
    );
    if request.event.is_some() {
        text.push_str(" AND event = ?");
    }
    if request.distinct_id.is_some() {
        text.push_str(" AND distinct_id = ?");
    }
    if request.cursor.is_some() {
        text.push_str(
            " AND (timestamp < toDateTime(?) OR (timestamp = toDateTime(?) AND event_id < toUUID(?)))",
        );
    }
    text.push_str(" ORDER BY timestamp DESC, event_id DESC");
    if limit.is_some() {
        text.push_str(" LIMIT ?");
    }
    let mut query = scope.bind(store.query(&text), &scope.range);
    if let Some(event) = &request.event {
        query = query.bind(event.as_str());
    }
    if let Some(distinct_id) = &request.distinct_id {
        query = query.bind(distinct_id.as_str());
    }
    if let Some((seconds, id)) = request.cursor {
        query = query.bind(seconds).bind(seconds).bind(id.to_string());
    }
    if let Some(limit) = limit {
        query = query.bind(limit as u64);
    }
    query
}

/// Events per piece of a streamed CSV.
const CSV_CHUNK: usize = 1_000;

/// How long a CSV of every matching event may take ClickHouse, in seconds, instead of the
/// analyses' limit: it is bounded by the range and by the reader, not by a dashboard's patience.
const CSV_TIMEOUT_SECONDS: &str = "600";

/// Every event of the scope that `request` asks for (its limit and cursor left aside), newest
/// first, as a CSV streamed while ClickHouse reads them: the service holds a thousand events
/// at a time, however many match. An error after the first bytes cuts the download short
/// (the client sees an unfinished chunked body) and is logged.
pub(crate) fn csv(store: &Store, scope: &Scope, request: &PageRequest) -> Result<Response, Error> {
    let query = statement(store, scope, request, None)
        .with_setting("max_execution_time", CSV_TIMEOUT_SECONDS);
    let cursor = store.fetch_cursor::<StoredEvent>(query)?;
    let header = crate::csv::line(EVENT_HEADER.iter());
    let rows = futures_util::stream::unfold(Some(cursor), |cursor| async move {
        let mut cursor = cursor?;
        let mut chunk = String::new();
        for _ in 0..CSV_CHUNK {
            match cursor.next().await {
                Ok(Some(row)) => chunk.push_str(&crate::csv::line(event_fields(&row.view()))),
                Ok(None) if chunk.is_empty() => return None,
                Ok(None) => return Some((Ok(Bytes::from(chunk)), None)),
                Err(err) => {
                    tracing::warn!(error = %err, "the events' CSV stopped short");
                    return Some((Err(err), None));
                }
            }
        }
        Some((Ok(Bytes::from(chunk)), Some(cursor)))
    });
    let head = futures_util::stream::once(std::future::ready(Ok(Bytes::from(header))));
    let body = axum::body::Body::from_stream(head.chain(rows));
    Ok(crate::csv::response("events", body))
}

/// The event `id` of the scope's project, whenever it happened.
pub(crate) async fn one(store: &Store, scope: &Scope, id: Uuid) -> Result<EventResponse, Error> {
    let text = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = toUUID(?) AND event_id = toUUID(?) LIMIT 1"
    );
    let found: StoredEvent = store
        .fetch_all(
            store
                .query(&text)
                .bind(scope.project.to_string())
                .bind(id.to_string()),
        )
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound("no such event".to_owned()))?;
    Ok(EventResponse {
        project_id: scope.project,
        event: found.view(),
    })
}
