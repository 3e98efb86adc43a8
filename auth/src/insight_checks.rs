//! What a saved insight may hold: a range query can compute every day (a preset, or two dates),
//! parameters that leave the project and the dates to the insight, a JSON body exactly for the
//! analyses that take one, and nothing larger than `MAX_INSIGHT_TEXT_BYTES` or holding control
//! characters (PostgreSQL text cannot hold NUL). The parameters are kept in their canonical
//! form, so that what query appends to its own query string is always one.

use contract::auth::{
    InsightKind, InsightQuery, InsightRequest, MAX_INSIGHT_TEXT_BYTES, RANGE_PRESETS,
    preset_days_back,
};
use serde_json::Value;
use time::{Date, Month};

use crate::error::ApiError;
use crate::users::plain_text;

/// The query parameters an insight's project and range set, which its `params` must not.
const SET_BY_THE_INSIGHT: [&str; 4] = ["project_id", "from", "to", "format"];

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

/// The query an insight holds, its parameters canonical; refuses a request whose `view` or
/// `query` an insight may not hold (its name is checked apart, as a dashboard's is).
pub(crate) fn checked(request: &InsightRequest) -> Result<InsightQuery, ApiError> {
    short_text("view", &request.view)?;
    let query = &request.query;
    short_text("query.params", &query.params)?;
    check_range(query)?;
    let params = canonical_params(&query.params)?;
    short_text("query.params", &params)?;
    check_body(request.kind, query.body.as_ref())?;
    Ok(InsightQuery {
        params,
        ..query.clone()
    })
}

/// At most `MAX_INSIGHT_TEXT_BYTES`, without control characters.
fn short_text(field: &str, text: &str) -> Result<(), ApiError> {
    if text.len() > MAX_INSIGHT_TEXT_BYTES {
        return Err(bad(format!(
            "{field} must be at most {MAX_INSIGHT_TEXT_BYTES} bytes"
        )));
    }
    plain_text(field, text)
}

/// A preset without dates, or `custom` with a `from` no later than its `to`.
fn check_range(query: &InsightQuery) -> Result<(), ApiError> {
    if preset_days_back(&query.range).is_some() {
        if query.from.is_some() || query.to.is_some() {
            return Err(bad(format!(
                "query.from and query.to are for a custom range only, not {}",
                query.range
            )));
        }
        return Ok(());
    }
    if query.range != "custom" {
        return Err(bad(format!(
            "query.range must be one of {} or custom",
            RANGE_PRESETS.join(", ")
        )));
    }
    let from = day("query.from", query.from.as_deref())?;
    let to = day("query.to", query.to.as_deref())?;
    if from > to {
        return Err(bad("query.from must not be after query.to".to_owned()));
    }
    Ok(())
}

/// A `YYYY-MM-DD` date, required.
fn day(field: &str, text: Option<&str>) -> Result<Date, ApiError> {
    let text = text.ok_or_else(|| bad(format!("{field} is required for a custom range")))?;
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let date = || {
        let year = text.get(0..4)?.parse().ok()?;
        let month: u8 = text.get(5..7)?.parse().ok()?;
        let day = text.get(8..10)?.parse().ok()?;
        Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
    };
    shaped
        .then(date)
        .flatten()
        .ok_or_else(|| bad(format!("{field} must be a date, YYYY-MM-DD")))
}

/// URL-encoded pairs, none of which has an empty name or names a parameter the insight sets
/// itself, written again as `application/x-www-form-urlencoded` (no `#`, space or raw
/// non-ASCII left). A leading `?` or `&` is dropped first, as query drops it, so that
/// `?format=csv` is refused as setting `format`.
fn canonical_params(params: &str) -> Result<String, ApiError> {
    let trimmed = params.trim_start_matches(['?', '&']);
    let mut canonical = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(trimmed.as_bytes()) {
        if name.is_empty() {
            return Err(bad(
                "query.params must name every parameter (a pair like =x has no name)".to_owned(),
            ));
        }
        if SET_BY_THE_INSIGHT.contains(&name.as_ref()) {
            return Err(bad(format!(
                "query.params must not set {name}: the insight's project and range do"
            )));
        }
        canonical.append_pair(&name, &value);
    }
    Ok(canonical.finish())
}

/// A JSON object for a funnel or a retention, at most `MAX_INSIGHT_TEXT_BYTES` as JSON;
/// nothing for the others.
fn check_body(kind: InsightKind, body: Option<&Value>) -> Result<(), ApiError> {
    match (kind.takes_body(), body) {
        (true, Some(body @ Value::Object(_))) => {
            if body.to_string().len() > MAX_INSIGHT_TEXT_BYTES {
                return Err(bad(format!(
                    "query.body must be at most {MAX_INSIGHT_TEXT_BYTES} bytes of JSON"
                )));
            }
            Ok(())
        }
        (true, _) => Err(bad(format!(
            "query.body must be a JSON object for a {} insight",
            kind.as_str()
        ))),
        (false, None) => Ok(()),
        (false, Some(_)) => Err(bad(format!(
            "a {} insight takes no query.body",
            kind.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(kind: &str, query: Value) -> InsightRequest {
        serde_json::from_value(json!({ "name": "n", "kind": kind, "query": query }))
            .expect("a request")
    }

    fn refusal(kind: &str, query: Value) -> String {
        match checked(&request(kind, query)) {
            Err(ApiError::BadRequest(message)) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn presets_and_custom_ranges_pass() {
        for range in RANGE_PRESETS {
            let query = json!({ "range": range, "params": "interval=day&event=%24pageview" });
            assert!(checked(&request("trends", query)).is_ok(), "{range}");
        }
        let custom = json!({ "range": "custom", "from": "2026-11-01", "to": "2026-11-01" });
        assert!(checked(&request("top", custom)).is_ok());
        let funnel = json!({ "range": "7d", "body": { "steps": [{ "event": "a" }] } });
        assert!(checked(&request("funnel", funnel)).is_ok());
    }

    #[test]
    fn a_range_without_its_dates_or_with_dates_it_does_not_take_is_refused() {
        assert!(refusal("top", json!({ "range": "yesterday" })).contains("query.range"));
        assert!(refusal("top", json!({ "range": "7d", "from": "2026-11-01" })).contains("custom"));
        assert!(
            refusal("top", json!({ "range": "custom", "from": "2026-11-01" }))
                .contains("query.to is required")
        );
        for bad_day in [
            "2026-13-01",
            "2026-02-30",
            "26-11-01",
            "+2026-11-1",
            "2026/11/01",
        ] {
            let query = json!({ "range": "custom", "from": bad_day, "to": "2026-11-02" });
            assert!(refusal("top", query).contains("query.from"), "{bad_day}");
        }
        let backwards = json!({ "range": "custom", "from": "2026-11-02", "to": "2026-11-01" });
        assert!(refusal("top", backwards).contains("after"));
    }

    #[test]
    fn params_must_leave_the_project_and_the_dates_to_the_insight() {
        for params in [
            "interval=day&project_id=x",
            "interval=day&from=x",
            "to=x",
            "format=csv",
            "%66ormat=csv",
            "?format=csv",
            "&&format=csv",
        ] {
            let query = json!({ "range": "7d", "params": params });
            let message = refusal("trends", query);
            assert!(message.contains("must not set"), "{params}: {message}");
        }
        for unnamed in ["=x", "a=1&=2", "a=1&="] {
            let query = json!({ "range": "7d", "params": unnamed });
            assert!(refusal("trends", query).contains("name"), "{unnamed}");
        }
        let long = json!({ "range": "7d", "params": "a".repeat(MAX_INSIGHT_TEXT_BYTES + 1) });
        assert!(refusal("trends", long).contains("at most"));
        let control = json!({ "range": "7d", "params": "a=\u{0}" });
        assert!(refusal("trends", control).contains("control"));
    }

    #[test]
    fn params_are_kept_canonical() {
        for (given, kept) in [
            ("", ""),
            ("?interval=day", "interval=day"),
            (
                "event=%24pageview&interval=day",
                "event=%24pageview&interval=day",
            ),
            ("path=/a b#top&&x", "path=%2Fa+b%23top&x="),
            ("name=café", "name=caf%C3%A9"),
            ("a?b=1", "a%3Fb=1"),
        ] {
            let query = json!({ "range": "7d", "params": given });
            let checked = checked(&request("trends", query)).expect(given);
            assert_eq!(checked.params, kept, "{given}");
        }
        // Three bytes for one: the canonical form must fit too.
        let wide = json!({ "range": "7d", "params": format!("a={}", "#".repeat(3000)) });
        assert!(refusal("trends", wide).contains("at most"));
    }

    #[test]
    fn a_body_goes_with_funnels_and_retentions_only() {
        assert!(refusal("funnel", json!({ "range": "7d" })).contains("JSON object"));
        assert!(refusal("retention", json!({ "range": "7d", "body": [1] })).contains("object"));
        assert!(refusal("trends", json!({ "range": "7d", "body": {} })).contains("takes no"));
        let huge = json!({ "range": "7d", "body": { "x": "y".repeat(MAX_INSIGHT_TEXT_BYTES) } });
        assert!(refusal("funnel", huge).contains("bytes of JSON"));
    }
}
