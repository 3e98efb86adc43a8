//! Engagement: how long a page view was looked at and how far it was scrolled, as the trackers
//! tell it when the page is left or hidden. Plausible sends an `engagement` of its own (`e`:
//! milliseconds engaged since its last one, `sd`: the deepest scroll so far, in percent);
//! posthog-js puts `$prev_pageview_duration` (seconds) and `$prev_pageview_max_scroll_percentage`
//! (0 to 1) of the page view before on the next `$pageview` of a single-page app, and on the
//! `$pageleave` sent as the page closes. Either becomes an [`EventKind::Engagement`] of the
//! page it measured, which the sink keeps apart from the events (the time on page and scroll
//! depth of that page, not an event of its own).

use contract::event::{ENGAGED_MS, ENGAGEMENT_EVENT, Event, EventKind, SCROLL_DEPTH};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::wire::urls::split_url;

/// The most one engagement counts: more than a session's 30 idle minutes at once is no person
/// reading a page but a tab left open (or a made-up figure).
pub(crate) const MAX_ENGAGED_MS: u64 = 30 * 60 * 1000;

/// Milliseconds and percent, as the engagement's properties hold them; `depth` clamped to 0 to
/// 100, `engaged` to [`MAX_ENGAGED_MS`].
pub(crate) fn measures(
    properties: &mut Map<String, Value>,
    engaged_ms: u64,
    scroll_depth: Option<f64>,
) {
    properties.insert(ENGAGED_MS.to_owned(), engaged_ms.min(MAX_ENGAGED_MS).into());
    if let Some(depth) = scroll_depth.filter(|depth| depth.is_finite()) {
        let percent = depth.round().clamp(0.0, 100.0) as u64;
        properties.insert(SCROLL_DEPTH.to_owned(), percent.into());
    }
}

/// A number of `value` that is finite and not negative.
fn measure(value: Option<&Value>) -> Option<f64> {
    value
        .and_then(Value::as_f64)
        .filter(|number| number.is_finite() && *number >= 0.0)
}

/// The engagement of the page view before, when `event` (a posthog-js event) tells one: a
/// `$pageleave` becomes it (it is no event of its own); a `$pageview` stays, and the
/// engagement of the page before it (which it must name) comes next to it.
///
/// posthog-js can tell one page view's engagement twice (a `$pageleave` as the page is put in
/// the back-forward cache, then the next `$pageview` once it is shown again; or an app's own
/// `$pageleave` before its `$pageview`): both name the page view (`$prev_pageview_id`), so both
/// get one id made from it and the engagement is stored once. Without that id, the engagement
/// of a `$pageview` gets an id made from the page view's, so that a retried request gives the
/// same one.
pub(crate) fn from_posthog(event: Event) -> (Event, Option<Event>) {
    let duration = measure(event.properties.get("$prev_pageview_duration"));
    let depth = measure(event.properties.get("$prev_pageview_max_scroll_percentage"))
        .map(|fraction| fraction * 100.0);
    let Some(seconds) = duration else {
        return (event, None);
    };
    let engaged_ms = (seconds * 1000.0).round() as u64;
    let previous_path = event
        .properties
        .get("$prev_pageview_pathname")
        .and_then(Value::as_str)
        .filter(|path| path.starts_with('/'))
        .map(str::to_owned);
    let view_id = event
        .properties
        .get("$prev_pageview_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(|id| Uuid::new_v5(&event.project_id, format!("engagement:{id}").as_bytes()));
    match (event.event.as_str(), previous_path) {
        ("$pageleave", path) => {
            let mut engagement = event;
            if let Some(id) = view_id {
                engagement.event_id = id;
            }
            (into_engagement(engagement, path, engaged_ms, depth), None)
        }
        ("$pageview", Some(path)) => {
            let mut before = event.clone();
            before.event_id =
                view_id.unwrap_or_else(|| Uuid::new_v5(&event.event_id, b"engagement"));
            let engagement = into_engagement(before, Some(path), engaged_ms, depth);
            (event, Some(engagement))
        }
        _ => (event, None),
    }
}

/// `event` made the engagement of the page `path` (else its own).
fn into_engagement(
    mut event: Event,
    path: Option<String>,
    engaged_ms: u64,
    depth: Option<f64>,
) -> Event {
    if let Some(path) = path {
        let (host, _) = split_url(&event.context.url);
        if !host.is_empty() {
            event.context.url = format!("{}://{host}{path}", scheme_of(&event.context.url));
        }
        event.context.path = path;
    }
    event.kind = EventKind::Engagement;
    event.event = ENGAGEMENT_EVENT.to_owned();
    measures(&mut event.properties, engaged_ms, depth);
    event
}

/// `https` or `http`, as `url` starts.
fn scheme_of(url: &str) -> &'static str {
    if url.starts_with("http://") {
        "http"
    } else {
        "https"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::event::EventContext;
    use serde_json::json;
    use time::OffsetDateTime;

    fn posthog(name: &str, properties: Value) -> Event {
        let Value::Object(properties) = properties else {
            panic!("an object");
        };
        Event {
            event_id: Uuid::now_v7(),
            project_id: Uuid::nil(),
            kind: EventKind::Track,
            event: name.to_owned(),
            distinct_id: "visitor".to_owned(),
            user_id: None,
            session_id: None,
            timestamp: OffsetDateTime::UNIX_EPOCH,
            received_at: OffsetDateTime::UNIX_EPOCH,
            properties,
            context: EventContext {
                url: "https://shop.example/cart".to_owned(),
                path: "/cart".to_owned(),
                ..EventContext::default()
            },
        }
    }

    #[test]
    fn a_page_leave_becomes_the_engagement_of_its_page() {
        let leave = posthog(
            "$pageleave",
            json!({ "$prev_pageview_pathname": "/pricing", "$prev_pageview_duration": 12.3456,
                    "$prev_pageview_max_scroll_percentage": 0.756 }),
        );
        let (engagement, more) = from_posthog(leave);
        assert!(more.is_none());
        assert_eq!(engagement.kind, EventKind::Engagement);
        assert_eq!(engagement.event, ENGAGEMENT_EVENT);
        assert_eq!(engagement.context.path, "/pricing");
        assert_eq!(engagement.context.url, "https://shop.example/pricing");
        assert_eq!(engagement.properties[ENGAGED_MS], json!(12_346));
        assert_eq!(engagement.properties[SCROLL_DEPTH], json!(76));
    }

    #[test]
    fn a_page_view_brings_the_engagement_of_the_one_before_under_a_stable_id() {
        let view = posthog(
            "$pageview",
            json!({ "$prev_pageview_pathname": "/", "$prev_pageview_duration": 3 }),
        );
        let id = view.event_id;
        let (view, engagement) = from_posthog(view);
        let engagement = engagement.expect("an engagement");
        assert_eq!(view.event, "$pageview");
        assert_eq!(engagement.event_id, Uuid::new_v5(&id, b"engagement"));
        assert_eq!(engagement.context.path, "/");
        assert_eq!(engagement.properties[ENGAGED_MS], json!(3000));
        assert!(engagement.properties.get(SCROLL_DEPTH).is_none());
    }

    #[test]
    fn one_page_views_engagement_told_twice_has_one_id() {
        let told = json!({ "$prev_pageview_pathname": "/", "$prev_pageview_duration": 3,
                           "$prev_pageview_id": "view-1" });
        let (leave, _) = from_posthog(posthog("$pageleave", told.clone()));
        let (_, engagement) = from_posthog(posthog("$pageview", told));
        let engagement = engagement.expect("an engagement");
        assert_eq!(leave.event_id, engagement.event_id);
        assert_eq!(
            leave.event_id,
            Uuid::new_v5(&Uuid::nil(), b"engagement:view-1")
        );
        // A page view that does not say which page it follows tells nothing of it.
        let (view, none) = from_posthog(posthog(
            "$pageview",
            json!({ "$prev_pageview_duration": 3 }),
        ));
        assert_eq!(view.event, "$pageview");
        assert!(none.is_none());
    }

    #[test]
    fn events_without_a_duration_or_with_a_made_up_one_are_left_alone_or_capped() {
        let (view, engagement) = from_posthog(posthog("$pageview", json!({})));
        assert_eq!(view.event, "$pageview");
        assert!(engagement.is_none());
        let (custom, none) =
            from_posthog(posthog("signup", json!({ "$prev_pageview_duration": 1 })));
        assert_eq!(custom.event, "signup");
        assert!(none.is_none());
        let (leave, _) = from_posthog(posthog(
            "$pageleave",
            json!({ "$prev_pageview_duration": 1e12, "$prev_pageview_max_scroll_percentage": 7 }),
        ));
        assert_eq!(leave.properties[ENGAGED_MS], json!(MAX_ENGAGED_MS));
        assert_eq!(leave.properties[SCROLL_DEPTH], json!(100));
        let (negative, _) = from_posthog(posthog(
            "$pageleave",
            json!({ "$prev_pageview_duration": -5 }),
        ));
        assert_eq!(negative.event, "$pageleave");
    }
}
