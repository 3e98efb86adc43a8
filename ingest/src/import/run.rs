//! The publishing loop of an import, shared by `cargo xtask import` and the imports API: each
//! record mapped and published to `EVENTS` with the import header, a window of PubAcks awaited
//! oldest first (so the offset saved is one every record before which is stored), and a pause
//! while the sink is behind. Where the progress goes (a state file, a KV entry) is the
//! caller's [`Observer`].

use std::collections::VecDeque;
use std::future::Future;

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use contract::event::Event;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

use crate::import::backlog;
use crate::import::format::Format;
use crate::import::mapper::{Mapper, link_of};
use crate::import::records::Records;
use crate::wire::engagement;

/// Where an import stands: the byte offset past the last record whose event JetStream
/// acknowledged, every record before it acknowledged (or refused) too, and the counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub offset: u64,
    pub events: u64,
    #[serde(default)]
    pub refused: u64,
}

/// How an import publishes.
#[derive(Debug, Clone)]
pub struct Options {
    /// PubAcks awaited at once.
    pub window: usize,
    /// Wait for the sink while `EVENTS` holds more than this percent of its `max_bytes`.
    pub max_backlog: u8,
    /// Tell [`Observer::save`] every so many acknowledged events.
    pub save_every: u64,
    /// For tests: stop after publishing this many events, leaving their acks unawaited, as a
    /// killed import would.
    pub stop_after: Option<u64>,
}

/// What the loop tells its caller.
pub trait Observer {
    /// Every [`Options::save_every`] acknowledged events: where a rerun may continue. An error
    /// stops the import (say, another ingest took the job over).
    fn save(&mut self, saved: Saved) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// After every acknowledged (or refused) record.
    fn acked(&mut self, _saved: Saved) {}
    /// A record that is no event of its format, skipped: on `line`, ending at byte `offset`.
    fn refused(&mut self, line: u64, offset: u64, reason: &str);
    /// The import waits (for the sink).
    fn waiting(&mut self, _message: &str) {}
    /// After every record read: a test's throttle may wait here (none by default).
    fn pace(&mut self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The whole file read, every event acknowledged.
    Whole(Saved),
    /// [`Options::stop_after`] events published.
    Stopped,
}

/// One import: the file's records from `saved.offset` on, published for `mapper`'s project.
#[derive(Debug)]
pub struct Import<'a> {
    pub js: &'a jetstream::Context,
    pub format: Format,
    pub mapper: Mapper,
    pub options: Options,
}

impl Import<'_> {
    /// Publishes every record of `records` (opened at `saved.offset`), telling `observer`.
    pub async fn run<R: AsyncRead + Unpin>(
        mut self,
        records: &mut Records<R>,
        mut saved: Saved,
        observer: &mut impl Observer,
    ) -> anyhow::Result<Ended> {
        let window_size = self.options.window.max(1);
        let mut window: VecDeque<(Vec<PublishAckFuture>, u64)> = VecDeque::new();
        let mut last_saved = saved.events;
        let mut published = 0_u64;
        while let Some(record) = records.next_record().await? {
            let event = record.and_then(|r| self.format.map(&mut self.mapper, &records.columns, r));
            let acks = match event {
                Ok(event) => self.send(event).await?,
                Err(reason) => {
                    observer.refused(records.record_line, records.offset, &reason);
                    Vec::new()
                }
            };
            window.push_back((acks, records.offset));
            published += 1;
            observer.pace().await;
            if published % backlog::CHECK_EVERY == 0 {
                let mut say = |message: &str| observer.waiting(message);
                backlog::wait_for_sink(self.js, self.options.max_backlog, &mut say).await?;
            }
            if self
                .options
                .stop_after
                .is_some_and(|stop| published >= stop)
            {
                return Ok(Ended::Stopped);
            }
            while window.len() >= window_size {
                settle_oldest(&mut window, &mut saved).await?;
                observer.acked(saved);
                if saved.events - last_saved >= self.options.save_every {
                    observer.save(saved).await?;
                    last_saved = saved.events;
                }
            }
        }
        while !window.is_empty() {
            settle_oldest(&mut window, &mut saved).await?;
            observer.acked(saved);
        }
        Ok(Ended::Whole(saved))
    }

    /// Publishes `event`, and the engagement a PostHog record tells: their acks.
    async fn send(&self, event: Event) -> anyhow::Result<Vec<PublishAckFuture>> {
        let (event, engagement) = engagement_of(self.format, event);
        let mut acks = vec![publish(self.js, &event).await?];
        if let Some(engagement) = engagement {
            acks.push(publish(self.js, &engagement).await?);
        }
        Ok(acks)
    }
}

/// A PostHog record's engagement, as live capture makes it ([`engagement::from_posthog`]): a
/// `$pageleave` telling one becomes it, a `$pageview` brings the one of the page before.
fn engagement_of(format: Format, event: Event) -> (Event, Option<Event>) {
    match format {
        Format::Posthog => engagement::from_posthog(event),
        Format::Segment | Format::Umami => (event, None),
    }
}

/// Awaits the oldest record's acks (none: it was refused): once they are in, every record up
/// to its offset is stored.
async fn settle_oldest(
    window: &mut VecDeque<(Vec<PublishAckFuture>, u64)>,
    saved: &mut Saved,
) -> anyhow::Result<()> {
    let Some((acks, offset)) = window.pop_front() else {
        return Ok(());
    };
    if acks.is_empty() {
        saved.refused += 1;
    } else {
        for ack in acks {
            ack.await.context("JetStream did not store an event")?;
        }
        saved.events += 1;
    }
    saved.offset = offset;
    Ok(())
}

/// Publishes `event` (and the identity link it makes) as ingest does, with the import header.
async fn publish(js: &jetstream::Context, event: &Event) -> anyhow::Result<PublishAckFuture> {
    if let Some(link) = link_of(event) {
        let subject = contract::streams::person_link_subject(&event.project_id.to_string());
        let id = contract::persons::Link::message_id(event.event_id).to_string();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let message = PublishMessage::build()
            .payload(serde_json::to_vec(&link)?.into())
            .headers(headers);
        // Awaited here: a person's links are few, and their order matters.
        js.send_publish(subject, message).await?.await?;
    }
    let subject =
        contract::streams::event_subject(&event.project_id.to_string(), event.kind.as_str());
    let id = event.event_id.to_string();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
    headers.insert(contract::streams::IMPORT_HEADER, "1");
    let message = PublishMessage::build()
        .payload(serde_json::to_vec(event)?.into())
        .headers(headers);
    Ok(js.send_publish(subject, message).await?)
}
