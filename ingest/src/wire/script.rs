//! Plausible and Umami: scripts that send no visitor id and no key. Plausible names the site by
//! `domain` (a project lists its domains), Umami by `website` (the project id); either is
//! accepted only for a project whose admin listed the site's domains, from a page on one of them
//! (see `plumbing::projects::Projects::accepts_host`), as no key proves who sends. The visitor
//! id is made by the `enrich` module's cookieless ids.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use contract::event::{ENGAGEMENT_EVENT, Event, EventContext, EventKind};

use crate::body::MAX_EVENT_BYTES;
use crate::wire::engagement;
use crate::wire::urls::split_url;

/// What a Plausible body holds (short and long field names).
#[derive(Debug)]
pub(crate) struct PlausibleEvent {
    pub(crate) name: String,
    pub(crate) url: String,
    /// One or more domains, comma separated.
    pub(crate) domains: Vec<String>,
    pub(crate) referrer: String,
    pub(crate) props: Map<String, Value>,
    /// Of an `engagement`: the milliseconds engaged since the page view's last one (`e`) and
    /// the deepest scroll so far in percent (`sd`).
    pub(crate) engagement: Option<(u64, Option<f64>)>,
}

/// Plausible's name for the engagement of a page view ([`crate::wire::engagement`]).
const PLAUSIBLE_ENGAGEMENT: &str = "engagement";

pub(crate) fn parse_plausible(json: &[u8]) -> Result<PlausibleEvent, String> {
    if json.len() > MAX_EVENT_BYTES {
        return Err(format!("an event must be at most {MAX_EVENT_BYTES} bytes"));
    }
    let value: Value =
        serde_json::from_slice(json).map_err(|err| format!("invalid JSON body: {err}"))?;
    let object = value.as_object().ok_or("the body must be a JSON object")?;
    let field = |short: &str, long: &str| object.get(short).or_else(|| object.get(long));
    let text = |short: &str, long: &str| {
        field(short, long)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let name = text("n", "name");
    if name.is_empty() || name.len() > 200 {
        return Err("name: is required, 1 to 200 characters".to_owned());
    }
    let url = text("u", "url");
    if url::Url::parse(&url).is_err() {
        return Err("url: must be an absolute URL".to_owned());
    }
    let domains: Vec<String> = text("d", "domain")
        .split(',')
        .map(|d| d.trim().to_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if domains.is_empty() {
        return Err("domain: is required".to_owned());
    }
    let mut props = match field("p", "props") {
        Some(Value::Object(props)) => props.clone(),
        // The script sends props as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(props)) => props,
            _ => return Err("props: must be an object".to_owned()),
        },
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("props: must be an object".to_owned()),
    };
    if let Some(revenue) = field("$", "revenue").filter(|value| !value.is_null()) {
        let (amount, currency) = revenue_of(revenue)?;
        props.insert(REVENUE.to_owned(), amount.into());
        props.insert(CURRENCY.to_owned(), currency.into());
    }
    // Plausible's non-interactive events (`i: false`) are kept marked as such.
    if field("i", "interactive") == Some(&Value::Bool(false)) {
        props.insert(NON_INTERACTIVE.to_owned(), true.into());
    }
    let engagement = if name == PLAUSIBLE_ENGAGEMENT {
        let number = |short: &str, long: &str| match field(short, long) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_f64()
                .filter(|number| number.is_finite() && *number >= 0.0)
                .map(Some)
                .ok_or_else(|| format!("{short}: must be a number, 0 or more")),
        };
        let engaged = number("e", "engagement_time")?.unwrap_or(0.0);
        Some((engaged.round() as u64, number("sd", "scroll_depth")?))
    } else {
        None
    };
    Ok(PlausibleEvent {
        name,
        url,
        domains,
        referrer: text("r", "referrer"),
        props,
        engagement,
    })
}

/// The properties a Plausible goal's revenue (`$`: `{amount, currency}`) becomes: the amount
/// as a number, the ISO 4217 currency code; and the mark of a non-interactive event (`i`).
const REVENUE: &str = "$revenue";
const CURRENCY: &str = "$currency";
const NON_INTERACTIVE: &str = "$non_interactive";

/// The amount (a finite number, or a string of one, as Plausible's script sends either) and
/// currency (three letters, upper-cased) of a goal's revenue.
fn revenue_of(revenue: &Value) -> Result<(f64, String), String> {
    let refused = || "$: revenue must be {amount: a number, currency: a 3-letter ISO code}";
    let amount = match revenue.get("amount") {
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|amount| amount.is_finite())
    .ok_or_else(refused)?;
    let currency = revenue
        .get("currency")
        .and_then(Value::as_str)
        .filter(|code| code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()))
        .ok_or_else(refused)?;
    Ok((amount, currency.to_ascii_uppercase()))
}

/// The Plausible event as an envelope; `visitor` is the cookieless visitor id.
pub(crate) fn plausible_event(
    request: PlausibleEvent,
    project_id: Uuid,
    visitor: String,
    received_at: OffsetDateTime,
    ip: &str,
) -> Event {
    let mut properties = request.props;
    let (kind, event) = match request.engagement {
        _ if request.name == "pageview" => (EventKind::Page, "$pageview".to_owned()),
        Some((engaged_ms, scroll_depth)) => {
            engagement::measures(&mut properties, engaged_ms, scroll_depth);
            (EventKind::Engagement, ENGAGEMENT_EVENT.to_owned())
        }
        None => (EventKind::Track, request.name),
    };
    let (host, path) = split_url(&request.url);
    let referrer_domain = split_url(&request.referrer).0;
    Event {
        event_id: Uuid::now_v7(),
        project_id,
        kind,
        event,
        distinct_id: visitor,
        user_id: None,
        session_id: None,
        timestamp: received_at,
        received_at,
        properties,
        context: EventContext {
            url: request.url,
            host,
            path,
            referrer: request.referrer,
            referrer_domain,
            lib: "plausible".to_owned(),
            ip: ip.to_owned(),
            ..EventContext::default()
        },
    }
}

/// What an Umami body holds: `{type, payload: {website, hostname, url, referrer, name?, data?, …}}`.
#[derive(Debug)]
pub(crate) struct UmamiEvent {
    pub(crate) website: Uuid,
    pub(crate) kind: String,
    pub(crate) payload: Map<String, Value>,
}

pub(crate) fn parse_umami(json: &[u8]) -> Result<UmamiEvent, String> {
    if json.len() > MAX_EVENT_BYTES {
        return Err(format!("an event must be at most {MAX_EVENT_BYTES} bytes"));
    }
    let value: Value =
        serde_json::from_slice(json).map_err(|err| format!("invalid JSON body: {err}"))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("event")
        .to_owned();
    if kind != "event" && kind != "identify" {
        return Err("type: must be event or identify".to_owned());
    }
    let payload = value
        .get("payload")
        .and_then(Value::as_object)
        .ok_or("payload: is required, an object")?
        .clone();
    let website = payload
        .get("website")
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or("payload.website: must be a project id")?;
    Ok(UmamiEvent {
        website,
        kind,
        payload,
    })
}

impl UmamiEvent {
    /// The page's URL: `url` when it is absolute, else `hostname` and the path `url`.
    fn page_url(&self) -> String {
        let text = |key: &str| {
            self.payload
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        match (text("url"), text("hostname")) {
            (path, hostname) if path.starts_with('/') && !hostname.is_empty() => {
                format!("https://{hostname}{path}")
            }
            (url, _) => url.to_owned(),
        }
    }

    /// The host of the page the event comes from: the page URL's, else `hostname`.
    pub(crate) fn host(&self) -> String {
        match split_url(&self.page_url()).0 {
            host if host.is_empty() => self
                .payload
                .get("hostname")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            host => host,
        }
    }
}

pub(crate) fn umami_event(
    request: UmamiEvent,
    visitor: String,
    received_at: OffsetDateTime,
    ip: &str,
) -> Result<Event, String> {
    let url = request.page_url();
    let payload = request.payload;
    let text = |key: &str| {
        payload
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let hostname = text("hostname");
    let mut properties = match payload.get("data") {
        Some(Value::Object(data)) => data.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("payload.data: must be an object".to_owned()),
    };
    for (key, name) in [
        ("title", "$title"),
        ("language", "$language"),
        ("screen", "$screen"),
        // The script's `data-tag`, which Umami filters by.
        ("tag", "$tag"),
    ] {
        if let Some(value) = payload.get(key).filter(|v| !v.is_null()) {
            properties.insert(name.to_owned(), value.clone());
        }
    }
    let name = text("name");
    let (kind, event) = match (request.kind.as_str(), name.is_empty()) {
        ("identify", _) => (EventKind::Identify, "$identify".to_owned()),
        (_, true) => (EventKind::Page, "$pageview".to_owned()),
        (_, false) if name.len() <= 200 => (EventKind::Track, name),
        _ => return Err("payload.name: must be at most 200 characters".to_owned()),
    };
    let distinct_id = match text("id") {
        id if !id.is_empty() => id,
        _ => visitor,
    };
    let (host, path) = split_url(&url);
    let referrer = text("referrer");
    Ok(Event {
        event_id: Uuid::now_v7(),
        project_id: request.website,
        kind,
        event,
        distinct_id,
        user_id: None,
        session_id: None,
        timestamp: received_at,
        received_at,
        properties,
        context: EventContext {
            url,
            host: if host.is_empty() { hostname } else { host },
            path,
            referrer_domain: split_url(&referrer).0,
            referrer,
            lib: "umami".to_owned(),
            ip: ip.to_owned(),
            ..EventContext::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_short_and_long_names_parse() {
        let short = parse_plausible(br#"{"n":"pageview","u":"https://site.example/a","d":"site.example","r":"https://ref.example/x","p":"{\"plan\":\"pro\"}"}"#).expect("short");
        assert_eq!(
            (
                short.name.as_str(),
                short.domains.as_slice(),
                short.props["plan"].as_str()
            ),
            ("pageview", &["site.example".to_owned()][..], Some("pro"))
        );
        let long = parse_plausible(
            br#"{"name":"Signup","url":"https://site.example/","domain":"a.example,site.example"}"#,
        )
        .expect("long");
        assert_eq!(long.domains.len(), 2);
        assert!(parse_plausible(br#"{"n":"pageview","u":"not a url","d":"x"}"#).is_err());
    }

    #[test]
    fn plausible_engagement_is_the_page_views_time_and_scroll_not_an_event() {
        let parsed = parse_plausible(
            br#"{"n":"engagement","u":"https://site.example/a","d":"site.example","e":5400,"sd":63,"p":{"plan":"pro"},"v":36}"#,
        )
        .expect("engagement");
        assert_eq!(parsed.engagement, Some((5400, Some(63.0))));
        let event = plausible_event(
            parsed,
            Uuid::nil(),
            "visitor".to_owned(),
            OffsetDateTime::UNIX_EPOCH,
            "",
        );
        assert_eq!(
            (
                event.kind,
                event.event.as_str(),
                event.context.path.as_str()
            ),
            (EventKind::Engagement, ENGAGEMENT_EVENT, "/a")
        );
        assert_eq!(event.properties[contract::event::ENGAGED_MS], 5400);
        assert_eq!(event.properties[contract::event::SCROLL_DEPTH], 63);
        assert_eq!(event.properties["plan"], "pro");
        for bad in [r#""e":-1"#, r#""e":"long""#, r#""e":1,"sd":"deep""#] {
            let body = format!(
                r#"{{"n":"engagement","u":"https://site.example/","d":"site.example",{bad}}}"#
            );
            assert!(parse_plausible(body.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn plausible_revenue_and_non_interactive_events_are_kept_as_properties() {
        let parsed = parse_plausible(
            br#"{"n":"Purchase","u":"https://site.example/","d":"site.example","$":{"amount":"9.5","currency":"eur"},"i":false}"#,
        )
        .expect("revenue");
        assert_eq!(parsed.props[REVENUE], 9.5);
        assert_eq!(parsed.props[CURRENCY], "EUR");
        assert_eq!(parsed.props[NON_INTERACTIVE], true);
        let plain = parse_plausible(
            br#"{"n":"Signup","u":"https://site.example/","d":"site.example","i":true}"#,
        )
        .expect("plain");
        assert!(plain.props.is_empty());
        for bad in [
            r#""$":{"amount":"lots","currency":"EUR"}"#,
            r#""$":{"amount":1,"currency":"EURO"}"#,
            r#""$":{"amount":1}"#,
            r#""$":5"#,
        ] {
            let body = format!(
                r#"{{"n":"Purchase","u":"https://site.example/","d":"site.example",{bad}}}"#
            );
            assert!(parse_plausible(body.as_bytes()).is_err(), "{bad}");
        }
    }
}
