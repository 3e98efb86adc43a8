//! `GET /api/query/overview`: the figures of the range and of the period before, with and
//! without filters.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::{Fixture, Generated, sessions};
use crate::helpers::urlencode;

/// Events, users, sessions, pageviews and bounce rate; then the events each filter keeps.
pub(crate) async fn figures_and_filters(fixture: &Fixture<'_>) {
    let (stack, admin, scope, events) = fixture.parts();
    // Overview.
    let (status, overview) = stack
        .get(Some(admin), &format!("/api/query/overview?{scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    let all: Vec<&Generated> = events.iter().collect();
    let users: HashSet<&str> = events.iter().map(|e| e.user.as_str()).collect();
    let pageviews = events.iter().filter(|e| e.event == "$pageview").count();
    let (session_count, bounced) = sessions(&all);
    let figures = &overview["figures"];
    assert_eq!(figures["users"]["value"], json!(users.len() as f64));
    assert_eq!(figures["pageviews"]["value"], json!(pageviews as f64));
    assert_eq!(figures["sessions"]["value"], json!(session_count as f64));
    assert_eq!(
        figures["bounce_rate"]["value"],
        json!(bounced as f64 / session_count as f64)
    );
    assert_eq!(figures["events"]["previous"], json!(0.0));
    assert_eq!(overview["range"]["from"], "2026-11-01T23:00:00Z");
    assert_eq!(overview["range"]["to"], "2026-11-08T23:00:00Z");

    // Filters: a property equal to a value, a path containing text (any case), a number.
    let filtered = |filter: Value| {
        let filter = filter.to_string();
        async move {
            let (status, body) = stack
                .get(
                    Some(admin),
                    &format!("/api/query/overview?{scope}&filter={}", urlencode(&filter)),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{filter}: {body}");
            body["figures"]["events"]["value"].as_f64().unwrap_or(-1.0) as usize
        }
    };
    assert_eq!(
        filtered(json!([{ "key": "property:plan", "op": "eq", "value": "pro" }])).await,
        events.iter().filter(|e| e.plan == "pro").count()
    );
    assert_eq!(
        filtered(json!([{ "key": "path", "op": "contains", "value": "PRIC" }])).await,
        events.iter().filter(|e| e.path == "/pricing").count()
    );
    assert_eq!(
        filtered(json!([
            { "key": "property:minutes", "op": "gte", "value": 10 },
            { "key": "event", "op": "neq", "value": "signup" }
        ]))
        .await,
        events
            .iter()
            .filter(|e| e.minutes >= 10 && e.event != "signup")
            .count()
    );
    assert_eq!(
        filtered(json!([{ "key": "property:coupon", "op": "set" }])).await,
        0
    );
}
