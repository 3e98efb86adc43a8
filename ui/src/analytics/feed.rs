//! Reading the live feed's stream: Server-Sent Events parsed from bytes cut anywhere, the row
//! an event becomes, and why a read ended.

use contract::query::{ActiveUsers, LiveEnd, LiveEndReason};
use js_sys::futures::JsFuture;
use sycamore::prelude::*;

/// Most events the feed keeps.
const FEED_LENGTH: usize = 50;

/// One message of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseMessage {
    /// `message` when the server named none.
    pub(crate) event: String,
    pub(crate) data: String,
}

/// Reads Server-Sent Events from bytes as they arrive, in chunks cut anywhere.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    pending: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    /// The messages `bytes` completed.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<SseMessage> {
        self.pending.extend_from_slice(bytes);
        let mut messages = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    let event = std::mem::take(&mut self.event);
                    messages.push(SseMessage {
                        event: if event.is_empty() {
                            "message".to_owned()
                        } else {
                            event
                        },
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                self.event.clear();
                continue;
            }
            if line.starts_with(':') {
                // A comment: the keep-alive.
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = value.to_owned(),
                "data" => self.data.push(value.to_owned()),
                _ => {}
            }
        }
        messages
    }
}

/// An event of the feed, as its row shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeedItem {
    pub(crate) id: String,
    pub(crate) event: String,
    pub(crate) who: String,
    pub(crate) at: String,
    pub(crate) path: String,
}

/// The feed row of an `event` message (an event envelope as published).
pub(crate) fn feed_item(data: &str) -> Option<FeedItem> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let event = text("/event");
    if event.is_empty() {
        return None;
    }
    Some(FeedItem {
        id: text("/event_id"),
        event,
        who: text("/distinct_id"),
        at: text("/timestamp"),
        path: text("/context/path"),
    })
}

/// Why reading a feed stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The server ended it with an `end` message.
    ByServer(LiveEndReason),
    /// The connection closed without one: a network failure, a restart.
    Closed,
    /// The project changed or the tab closed: nothing more to do.
    Replaced,
}

/// Reads the feed until it ends, showing its counts and events as they arrive.
pub(crate) async fn read_feed(
    reader: &web_sys::ReadableStreamDefaultReader,
    current: &impl Fn() -> bool,
    active: Signal<Option<Option<u64>>>,
    feed: Signal<Vec<FeedItem>>,
) -> Ended {
    let mut parser = SseParser::default();
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            return Ended::Closed;
        };
        if !current() {
            return Ended::Replaced;
        }
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            return Ended::Closed;
        }
        let bytes = js_sys::Reflect::get(&chunk, &"value".into())
            .map(|v| js_sys::Uint8Array::new(&v).to_vec())
            .unwrap_or_default();
        for message in parser.push(&bytes) {
            match message.event.as_str() {
                "active_users" => {
                    if let Ok(users) = serde_json::from_str::<ActiveUsers>(&message.data) {
                        active.set(Some(users.count));
                    }
                }
                "event" => {
                    if let Some(item) = feed_item(&message.data) {
                        feed.update(|feed| {
                            feed.insert(0, item);
                            feed.truncate(FEED_LENGTH);
                        });
                    }
                }
                "end" => return Ended::ByServer(end_reason(&message.data)),
                _ => {}
            }
        }
    }
}

/// The reason an `end` message gives; one the app cannot read counts as withdrawn access, which
/// asks auth before reopening.
fn end_reason(data: &str) -> LiveEndReason {
    serde_json::from_str::<LiveEnd>(data).map_or(LiveEndReason::AccessRevoked, |end| end.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_whole_however_the_bytes_are_cut() {
        let stream = b"event: active_users\ndata: {\"count\":3}\n\n: keep-alive\n\nevent: event\r\ndata: {\"event\":\"signup\",\r\ndata: \"distinct_id\":\"u1\"}\r\n\r\ndata: plain\n\n";
        let expected = vec![
            SseMessage {
                event: "active_users".to_owned(),
                data: "{\"count\":3}".to_owned(),
            },
            SseMessage {
                event: "event".to_owned(),
                data: "{\"event\":\"signup\",\n\"distinct_id\":\"u1\"}".to_owned(),
            },
            SseMessage {
                event: "message".to_owned(),
                data: "plain".to_owned(),
            },
        ];
        let mut whole = SseParser::default();
        assert_eq!(whole.push(stream), expected);
        for cut in [1, 7, 20, 40] {
            let mut parser = SseParser::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(cut) {
                got.extend(parser.push(chunk));
            }
            assert_eq!(got, expected, "chunks of {cut}");
        }
    }

    #[test]
    fn an_envelope_becomes_a_feed_row() {
        let data = r#"{"event_id":"e1","event":"signup","distinct_id":"u1","timestamp":"2026-11-02T10:00:00Z","context":{"path":"/join"}}"#;
        let item = feed_item(data).expect("an item");
        assert_eq!(
            (item.event.as_str(), item.who.as_str(), item.path.as_str()),
            ("signup", "u1", "/join")
        );
        assert_eq!(feed_item("{}"), None);
        assert_eq!(feed_item("not json"), None);
    }

    #[test]
    fn an_end_message_says_why_and_an_unreadable_one_counts_as_withdrawn_access() {
        assert_eq!(
            end_reason(r#"{"reason":"token_expired"}"#),
            LiveEndReason::TokenExpired
        );
        assert_eq!(
            end_reason(r#"{"reason":"access_revoked"}"#),
            LiveEndReason::AccessRevoked
        );
        assert_eq!(end_reason("{}"), LiveEndReason::AccessRevoked);
    }
}
