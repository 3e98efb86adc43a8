//! Past events from other products' exports, one record at a time, mapped to the envelope by
//! the same code as the live wire formats (`cargo xtask import` reads the files and publishes):
//! PostHog's event export, a Segment or RudderStack archive, Umami's `website_event` export.
//!
//! Two things differ from live intake. The source's event id is always kept (a record without
//! one gets a UUIDv5 of project and record), so importing a file twice maps every record to the
//! same id. And times are kept as they were: no clock-skew correction, as no `sent_at` of a
//! request is known; a record without a time, or with one over a day in the future, is refused.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use contract::event::Event;
use contract::persons::Link;

use crate::enrich::acquisition;
use crate::enrich::user_agent::UserAgents;
use crate::wire::fields::event_id;
use crate::wire::script::{UmamiEvent, umami_event};
use crate::wire::{posthog, segment};

/// Maps the records of one import to events of one project.
#[derive(Debug)]
pub struct Mapper {
    project_id: Uuid,
    received_at: OffsetDateTime,
    agents: UserAgents,
}

impl Mapper {
    /// A mapper for `project_id`; its events are received now.
    pub fn new(project_id: Uuid) -> Self {
        Self {
            project_id,
            received_at: OffsetDateTime::now_utc(),
            agents: UserAgents::default(),
        }
    }

    /// One PostHog event: a JSON object with `event`, `distinct_id`, `timestamp`,
    /// `properties` (an object, or JSON text of one, as exports write it) and `uuid`.
    pub fn posthog(&mut self, mut record: Map<String, Value>, raw: &[u8]) -> Result<Event, String> {
        if let Some(Value::String(text)) = record.get("properties") {
            let properties: Value = serde_json::from_str(text)
                .map_err(|err| format!("properties: not a JSON object: {err}"))?;
            record.insert("properties".to_owned(), properties);
        }
        // Times as they were: no skew correction from a send time or an offset.
        for key in ["sent_at", "offset"] {
            record.remove(key);
        }
        self.rfc3339_field(&mut record, "timestamp")?;
        self.keep_id(&mut record, "uuid", raw);
        let json = serde_json::to_vec(&Value::Object(record)).map_err(|err| err.to_string())?;
        let capture = posthog::parse(&json).map_err(|err| err.to_string())?;
        let event = capture.events.into_iter().next().ok_or("no event")?;
        let event = posthog::normalise(event, self.project_id, None, self.received_at, "")?;
        Ok(self.enrich(event))
    }

    /// One Segment (or RudderStack) message: `type`, `messageId`, `userId`/`anonymousId`,
    /// `timestamp`, `properties`/`traits`, `context`.
    pub fn segment(&mut self, mut record: Map<String, Value>, raw: &[u8]) -> Result<Event, String> {
        // The time the event happened as the source stored it: `timestamp` (already corrected
        // by Segment), else `originalTimestamp`; no skew correction from `sentAt`.
        if !record.contains_key("timestamp") {
            if let Some(original) = record.get("originalTimestamp").cloned() {
                record.insert("timestamp".to_owned(), original);
            }
        }
        for key in ["sentAt", "originalTimestamp"] {
            record.remove(key);
        }
        self.rfc3339_field(&mut record, "timestamp")?;
        self.keep_id(&mut record, "messageId", raw);
        let event = segment::normalise(
            Value::Object(record),
            self.project_id,
            None,
            self.received_at,
            "",
        )?;
        Ok(self.enrich(event))
    }

    /// One row of Umami's `website_event` export, by column name: `event_id`, `session_id`,
    /// `created_at`, `url_path`, `url_query`, `referrer_domain`, `referrer_path`,
    /// `referrer_query`, `page_title`, `hostname`, `event_type` (1 a page view, 2 an event),
    /// `event_name`, and where the export has them `browser`, `os`, `device`, `country`,
    /// `region`, `city`, `utm_*`.
    pub fn umami(
        &mut self,
        row: &dyn Fn(&str) -> Option<String>,
        raw: &[u8],
    ) -> Result<Event, String> {
        let text = |key: &str| row(key).unwrap_or_default();
        let mut url = text("url_path");
        if !text("url_query").is_empty() {
            url = format!("{url}?{}", text("url_query"));
        }
        let referrer = match text("referrer_domain") {
            domain if domain.is_empty() => String::new(),
            domain => {
                let query = text("referrer_query");
                let query = if query.is_empty() {
                    query
                } else {
                    format!("?{query}")
                };
                format!("https://{domain}{}{query}", text("referrer_path"))
            }
        };
        let mut payload = Map::new();
        let mut put = |key: &str, value: String| {
            if !value.is_empty() {
                payload.insert(key.to_owned(), Value::String(value));
            }
        };
        put("url", url);
        put("hostname", text("hostname"));
        put("referrer", referrer);
        put("title", text("page_title"));
        if text("event_type") != "1" {
            put("name", text("event_name"));
        }
        let request = UmamiEvent {
            website: self.project_id,
            kind: "event".to_owned(),
            payload,
        };
        let created_at = row("created_at").ok_or("created_at: is required")?;
        let timestamp = self.checked_time("created_at", &created_at)?;
        let mut event = umami_event(request, text("session_id"), self.received_at, "")?;
        event.event_id = match row("event_id").filter(|id| !id.is_empty()) {
            Some(id) => event_id(self.project_id, &id),
            None => Uuid::new_v5(&self.project_id, raw),
        };
        event.timestamp = timestamp;
        let context = &mut event.context;
        for (field, key) in [
            (&mut context.browser, "browser"),
            (&mut context.os, "os"),
            (&mut context.device_type, "device"),
            (&mut context.country, "country"),
            (&mut context.region, "region"),
            (&mut context.city, "city"),
        ] {
            *field = umami_name(key, &text(key));
        }
        if let Some(tag) = row("tag").filter(|tag| !tag.is_empty()) {
            event
                .properties
                .insert("$tag".to_owned(), Value::String(tag));
        }
        for key in [
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
        ] {
            if let Some(value) = row(key).filter(|v| !v.is_empty()) {
                event
                    .properties
                    .insert(key.to_owned(), Value::String(value));
            }
        }
        Ok(self.enrich(event))
    }

    /// The record's id field when it has one; otherwise a UUIDv5 of project and record, the
    /// same every time the file is imported.
    fn keep_id(&self, record: &mut Map<String, Value>, key: &str, raw: &[u8]) {
        let has_id = match record.get(key) {
            Some(Value::String(id)) => !id.is_empty(),
            Some(Value::Number(number)) => {
                // Kept as its text: the wire formats take string ids only.
                let id = number.to_string();
                record.insert(key.to_owned(), Value::String(id));
                true
            }
            _ => false,
        };
        if !has_id {
            let id = Uuid::new_v5(&self.project_id, raw);
            record.insert(key.to_owned(), Value::String(id.to_string()));
        }
    }

    /// Rewrites the date-time at `key` in RFC 3339, whatever form the export wrote it in; a
    /// record without one, or with one in the future, is refused (stamped with the import's
    /// time, a re-import would give it another date, where the sink does not look its id up).
    fn rfc3339_field(&self, record: &mut Map<String, Value>, key: &str) -> Result<(), String> {
        let Some(Value::String(text)) = record.get(key) else {
            return Err(format!("{key}: a date-time is required"));
        };
        let at = self.checked_time(key, text)?;
        let text = at.format(&Rfc3339).map_err(|err| err.to_string())?;
        record.insert(key.to_owned(), Value::String(text));
        Ok(())
    }

    /// The date-time `text` of field `key`, refused unparseable or over a day ahead of now.
    fn checked_time(&self, key: &str, text: &str) -> Result<OffsetDateTime, String> {
        let at = parse_time(text).ok_or_else(|| format!("{key}: not a date-time"))?;
        if at > self.received_at + time::Duration::days(1) {
            return Err(format!("{key}: more than a day in the future"));
        }
        Ok(at)
    }

    /// What live intake derives too: browser, OS and device from the user agent, campaign and
    /// channel. (Places need the client's address, which exports do not keep.)
    fn enrich(&mut self, mut event: Event) -> Event {
        self.agents.enrich(&mut event, None);
        acquisition::enrich(&mut event);
        event
    }
}

/// Umami's browser, OS or device value (`column`) as live enrichment spells it (woothee's
/// names: Chrome, Mac OSX, Desktop, …); a value without a counterpart is kept as it is.
fn umami_name(column: &str, value: &str) -> String {
    let name = match (column, value) {
        ("browser", "chrome" | "crios" | "chromium-webview") => "Chrome",
        ("browser", "firefox" | "fxios") => "Firefox",
        ("browser", "safari" | "ios" | "ios-webview") => "Safari",
        ("browser", "edge" | "edge-chromium" | "edge-ios") => "Edge",
        ("browser", "opera" | "opera-mini") => "Opera",
        ("browser", "ie") => "Internet Explorer",
        ("browser", "samsung") => "SamsungBrowser",
        ("browser", "yandexbrowser") => "Yandex Browser",
        ("browser", "facebook" | "instagram") => "Webview",
        ("os", "Mac OS") => "Mac OSX",
        ("os", "Chrome OS") => "ChromeOS",
        ("os", "Android OS") => "Android",
        ("os", "BlackBerry OS") => "BlackBerry",
        ("device", "desktop" | "laptop") => "Desktop",
        ("device", "mobile") => "Mobile",
        ("device", "tablet") => "Tablet",
        _ => value,
    };
    name.to_owned()
}

/// The identity link an imported event makes, published beside it as ingest does.
pub fn link_of(event: &Event) -> Option<Link> {
    crate::publish::links::link_of(event)
}

/// A date-time as exports write it: RFC 3339, or ClickHouse's and Postgres's
/// `2024-01-31 12:00:00[.fraction][+00[:00]|Z]`, taken as UTC without an offset.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at);
    }
    let text = text.replacen(' ', "T", 1);
    let (body, offset) = match text.rfind(['+', '-', 'Z']) {
        Some(at) if at > 10 => (&text[..at], &text[at..]),
        _ => (text.as_str(), "Z"),
    };
    let offset = match offset {
        "Z" => "Z".to_owned(),
        offset if offset.len() == 3 => format!("{offset}:00"),
        offset if offset.len() == 5 => match (offset.get(..3), offset.get(3..)) {
            (Some(hours), Some(minutes)) => format!("{hours}:{minutes}"),
            _ => return None,
        },
        offset => offset.to_owned(),
    };
    OffsetDateTime::parse(&format!("{body}{offset}"), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => Map::new(),
        }
    }

    #[test]
    fn export_times_parse_in_their_usual_forms() {
        let expected = OffsetDateTime::parse("2024-01-31T12:00:00.5Z", &Rfc3339).ok();
        for text in [
            "2024-01-31T12:00:00.5Z",
            "2024-01-31 12:00:00.500",
            "2024-01-31 12:00:00.5+00",
            "2024-01-31 13:00:00.500+01:00",
            "2024-01-31T12:00:00.500000+0000",
        ] {
            assert_eq!(parse_time(text), expected, "{text}");
        }
        assert_eq!(parse_time("yesterday"), None);
        // Not ASCII where the offset would be: refused, not a panic.
        assert_eq!(parse_time("2024-01-31 12:00:00+0\u{e9}0"), None);
        assert_eq!(parse_time("2024-01-31 12:00:00-\u{e9}\u{e9}"), None);
    }

    #[test]
    fn posthog_records_keep_their_id_and_time() {
        let project = Uuid::now_v7();
        let mut mapper = Mapper::new(project);
        let id = Uuid::now_v7();
        let record = json!({"uuid": id, "event": "signed up", "distinct_id": "u1",
            "timestamp": "2023-05-01 10:00:00", "sent_at": "2023-05-01T11:00:00Z",
            "properties": "{\"plan\":\"pro\"}"});
        let event = mapper.posthog(object(record), b"x").expect("maps");
        assert_eq!(event.event_id, id);
        assert_eq!(
            event.timestamp,
            parse_time("2023-05-01T10:00:00Z").expect("time")
        );
        assert_eq!(event.properties["plan"], "pro");
        let no_id = json!({"event": "e", "distinct_id": "u1", "timestamp": "2023-05-01T10:00:00Z"});
        let first = mapper
            .posthog(object(no_id.clone()), b"line 7")
            .expect("maps");
        let again = mapper.posthog(object(no_id), b"line 7").expect("maps");
        assert_eq!(
            first.event_id, again.event_id,
            "the same record, the same id"
        );
    }

    #[test]
    fn numeric_ids_are_kept_and_timeless_or_future_records_refused() {
        let project = Uuid::now_v7();
        let mut mapper = Mapper::new(project);
        let numbered = json!({"uuid": 123, "event": "e", "distinct_id": "u1",
            "timestamp": "2023-05-01T10:00:00Z"});
        let first = mapper
            .posthog(object(numbered.clone()), b"a")
            .expect("maps");
        let again = mapper.posthog(object(numbered), b"b").expect("maps");
        assert_eq!(
            first.event_id, again.event_id,
            "the id, not the record's text"
        );
        assert_eq!(first.event_id, event_id(project, "123"));
        let timeless = json!({"uuid": "x", "event": "e", "distinct_id": "u1"});
        let err = mapper.posthog(object(timeless), b"c").expect_err("refused");
        assert!(err.contains("timestamp"), "{err}");
        let future = json!({"type": "track", "event": "e", "userId": "u1",
            "timestamp": "2999-01-01T00:00:00Z"});
        let err = mapper.segment(object(future), b"d").expect_err("refused");
        assert!(err.contains("future"), "{err}");
    }

    #[test]
    fn segment_messages_keep_their_time_without_skew_correction() {
        let mut mapper = Mapper::new(Uuid::now_v7());
        let record = json!({"type": "track", "event": "Bought", "messageId": "m-1",
            "userId": "u1", "originalTimestamp": "2022-02-02T02:02:02Z",
            "sentAt": "2022-02-02T03:00:00Z", "properties": {"price": 3}});
        let event = mapper.segment(object(record), b"x").expect("maps");
        assert_eq!(
            event.timestamp,
            parse_time("2022-02-02T02:02:02Z").expect("time")
        );
        assert_eq!(event.event_id, event_id(event.project_id, "m-1"));
    }

    #[test]
    fn umami_rows_become_page_views_and_events() {
        let mut mapper = Mapper::new(Uuid::now_v7());
        let id = Uuid::new_v4().to_string();
        let columns = |key: &str| {
            Some(match key {
                "event_id" => id.clone(),
                "session_id" => "s1".to_owned(),
                "created_at" => "2024-03-01 08:00:00.000".to_owned(),
                "url_path" => "/pricing".to_owned(),
                "hostname" => "site.example".to_owned(),
                "event_type" => "2".to_owned(),
                "event_name" => "signup".to_owned(),
                "country" => "DE".to_owned(),
                "browser" => "crios".to_owned(),
                "os" => "Mac OS".to_owned(),
                "device" => "laptop".to_owned(),
                "tag" => "spring".to_owned(),
                _ => return None,
            })
        };
        let event = mapper.umami(&columns, b"x").expect("maps");
        assert_eq!(event.event, "signup");
        assert_eq!(event.distinct_id, "s1");
        assert_eq!(event.context.path, "/pricing");
        assert_eq!(event.context.country, "DE");
        assert_eq!(
            [
                &event.context.browser,
                &event.context.os,
                &event.context.device_type
            ],
            ["Chrome", "Mac OSX", "Desktop"],
            "as live enrichment names them"
        );
        assert_eq!(event.properties["$tag"], "spring");
        assert_eq!(event.event_id.to_string(), id);
    }
}
