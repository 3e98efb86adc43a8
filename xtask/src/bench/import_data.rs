//! The exports and events the import scenario (see `imports`) publishes: shaped as xtask's
//! import test writes them (PostHog JSON lines, Segment JSON lines, Umami's `website_event`
//! CSV), and the same events normalised, for the raw limit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use contract::event::{Event, EventContext, EventKind};
use serde_json::json;
use uuid::Uuid;

/// Event `i` of the PostHog export, normalised as the import publishes it.
pub(crate) fn event_of(project: Uuid, i: usize) -> Event {
    let (event, person, at, plan) = fields(i);
    let mut properties = serde_json::Map::new();
    properties.insert("plan".to_owned(), json!(plan));
    Event {
        // Ids of the project's own: JetStream drops an id it took in the last ten minutes.
        event_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{project}-{i}").as_bytes()),
        project_id: project,
        kind: EventKind::Track,
        event,
        distinct_id: person,
        user_id: None,
        session_id: None,
        timestamp: at,
        received_at: time::OffsetDateTime::now_utc(),
        properties,
        context: EventContext {
            url: "https://shop.example/p".to_owned(),
            host: "shop.example".to_owned(),
            path: "/p".to_owned(),
            ..EventContext::default()
        },
    }
}

/// Event `i`'s fields, as xtask's import test writes them: name, person, time (a whole
/// second, in 2023), plan.
fn fields(i: usize) -> (String, String, time::OffsetDateTime, String) {
    let at =
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_672_531_200 + (i as i64) * 97);
    (
        format!("event {}", i % 7),
        format!("person-{}", i % 5000),
        at,
        format!("plan-{}", i % 3),
    )
}

/// `2023-01-01 00:00:00`.
fn plain(at: time::OffsetDateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02}",
        at.date(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// An export of `events` records in `format`, shaped as xtask's import test writes them:
/// PostHog JSON lines, Segment JSON lines (tracks, an identify every 1000), Umami's
/// `website_event` CSV. Each `round` has ids of its own: JetStream drops an id it took in the
/// last ten minutes.
pub(crate) fn write_export(
    dir: &Path,
    format: &'static str,
    events: usize,
    round: usize,
) -> anyhow::Result<PathBuf> {
    let file = dir.join(match format {
        "posthog" => "posthog.jsonl",
        "segment" => "segment.jsonl",
        _ => "website_event.csv",
    });
    let mut text = String::with_capacity(events * 300);
    if format == "umami" {
        text.push_str(
            "website_id,session_id,visit_id,event_id,created_at,url_path,url_query,\
             referrer_domain,page_title,event_type,event_name,hostname,browser,country\n",
        );
    }
    for i in 0..events {
        let id = Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("{format}-{round}-{i}").as_bytes(),
        );
        let (event, person, at, plan) = fields(i);
        let at = plain(at);
        let iso = at.replace(' ', "T") + "Z";
        let _ = match format {
            "posthog" => writeln!(
                text,
                "{}",
                json!({"uuid": id, "event": event, "distinct_id": person, "timestamp": iso,
                    "properties": {"plan": plan, "$current_url": "https://shop.example/p"}})
            ),
            "segment" if i % 1000 == 500 => writeln!(
                text,
                "{}",
                json!({"type": "identify", "messageId": id, "userId": person,
                    "anonymousId": format!("anon-{i}"), "timestamp": iso, "traits": {"plan": plan}})
            ),
            "segment" => writeln!(
                text,
                "{}",
                json!({"type": "track", "messageId": id, "event": event, "userId": person,
                    "timestamp": iso, "sentAt": "2024-06-01T00:00:00Z", "properties": {"plan": plan},
                    "context": {"library": {"name": "analytics-node"}}})
            ),
            _ => writeln!(
                text,
                "{nil},{person},{nil},{id},{at}.000,/p,plan={plan},ref.example,\"Shop, \"\"home\"\"\",2,{event},shop.example,chrome,DE",
                nil = Uuid::nil(),
            ),
        };
    }
    std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}
