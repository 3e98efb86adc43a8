//! Plausible and Umami: scripts that send no visitor id. A visitor is a keyed hash of project,
//! client address and user agent under a secret salt of the day (Plausible's scheme), so no
//! cookie is needed, the raw address is never stored, and the id cannot be reversed by hashing
//! every IPv4 address: the salt is random, shared by the replicas through JetStream KV, and
//! deleted after two days, after which nobody can link a visitor's days. Plausible names the site by `domain` (a project lists its domains),
//! Umami by `website` (the project id); either is accepted only for a project whose admin
//! listed the site's domains, from a page on one of them (see
//! `plumbing::projects::Projects::accepts_host`), as no key proves who sends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Map, Value};
use sha2::Sha256;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use contract::event::{Event, EventContext, EventKind};

use crate::posthog::{MAX_EVENT_BYTES, split_url};

/// How long a day's salt is kept: past it, the ids of that day cannot be linked to a visitor's
/// later ids, nor recomputed from an address.
pub const SALT_MAX_AGE: Duration = Duration::from_secs(2 * 24 * 60 * 60);

/// The visitor id of `ip` + `user_agent` on `project_id`: HMAC-SHA256 under the day's `salt`,
/// its first 12 bytes in hex. Stable for one UTC day, unrelated across days.
pub fn daily_visitor(salt: &Salt, project_id: Uuid, ip: &str, user_agent: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&salt.0).expect("HMAC takes a key of any length");
    mac.update(project_id.as_bytes());
    mac.update(ip.as_bytes());
    // A separator, so that no address and agent pair reads as another.
    mac.update(&[0]);
    mac.update(user_agent.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// A day's secret salt.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; 32]);

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// Why no salt could be had.
#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    #[error("the salt bucket: {0}")]
    Bucket(String),
    #[error("no randomness for a salt: {0}")]
    Random(String),
    #[error("the salt of {0} is not 32 bytes")]
    Malformed(Date),
}

/// The daily salts, in the JetStream KV bucket [`contract::streams::VISITOR_SALTS_BUCKET`]
/// (opened, or created, on first use): the first replica to need a day's salt creates it (a
/// create that fails when the key exists), every other one reads that one, so all agree. The
/// bucket's age limit deletes each salt [`SALT_MAX_AGE`] after it was made. The salts of the
/// last two days used are kept in memory.
#[derive(Clone)]
pub struct Salts {
    inner: Arc<SaltsInner>,
}

struct SaltsInner {
    js: jetstream::Context,
    max_age: Duration,
    store: tokio::sync::OnceCell<kv::Store>,
    days: Mutex<Vec<(Date, Salt)>>,
}

impl std::fmt::Debug for Salts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salts")
            .field("max_age", &self.inner.max_age)
            .finish_non_exhaustive()
    }
}

impl Salts {
    pub fn new(js: jetstream::Context) -> Self {
        Self::with_max_age(js, SALT_MAX_AGE)
    }

    /// Salts kept `max_age` instead of two days, for tests that watch one expire.
    pub fn with_max_age(js: jetstream::Context, max_age: Duration) -> Self {
        Self {
            inner: Arc::new(SaltsInner {
                js,
                max_age,
                store: tokio::sync::OnceCell::new(),
                days: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The salt of `date` (UTC), made now when no replica has made it yet.
    pub async fn for_day(&self, date: Date) -> Result<Salt, SaltError> {
        if let Some(salt) = self.cached(date) {
            return Ok(salt);
        }
        let store = self.store().await?;
        let key = date.to_string();
        let mut fresh = [0_u8; 32];
        getrandom::fill(&mut fresh).map_err(|err| SaltError::Random(err.to_string()))?;
        let salt = match store.create(&key, fresh.to_vec().into()).await {
            Ok(_) => Salt(fresh),
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {
                let stored = store
                    .get(&key)
                    .await
                    .map_err(|err| SaltError::Bucket(err.to_string()))?
                    .ok_or_else(|| SaltError::Bucket(format!("the salt of {key} vanished")))?;
                Salt(
                    <[u8; 32]>::try_from(stored.as_ref())
                        .map_err(|_| SaltError::Malformed(date))?,
                )
            }
            Err(err) => return Err(SaltError::Bucket(err.to_string())),
        };
        let mut days = self.days();
        days.retain(|(day, _)| *day != date);
        days.push((date, salt.clone()));
        days.sort_by_key(|(day, _)| std::cmp::Reverse(*day));
        days.truncate(2);
        Ok(salt)
    }

    fn cached(&self, date: Date) -> Option<Salt> {
        self.days()
            .iter()
            .find(|(day, _)| *day == date)
            .map(|(_, salt)| salt.clone())
    }

    fn days(&self) -> std::sync::MutexGuard<'_, Vec<(Date, Salt)>> {
        self.inner
            .days
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The bucket, opened or created once; a failure is tried again by the next request.
    async fn store(&self) -> Result<&kv::Store, SaltError> {
        let inner = &self.inner;
        inner
            .store
            .get_or_try_init(|| async {
                if let Ok(store) = inner
                    .js
                    .get_key_value(contract::streams::VISITOR_SALTS_BUCKET)
                    .await
                {
                    return Ok(store);
                }
                inner
                    .js
                    .create_key_value(kv::Config {
                        bucket: contract::streams::VISITOR_SALTS_BUCKET.to_owned(),
                        description: "Daily secret salts of cookieless visitor ids".to_owned(),
                        history: 1,
                        max_age: inner.max_age,
                        storage: jetstream::stream::StorageType::File,
                        ..Default::default()
                    })
                    .await
                    .map_err(|err| SaltError::Bucket(err.to_string()))
            })
            .await
    }
}

/// What a Plausible body holds (short and long field names).
#[derive(Debug)]
pub struct PlausibleEvent {
    pub name: String,
    pub url: String,
    /// One or more domains, comma separated.
    pub domains: Vec<String>,
    pub referrer: String,
    pub props: Map<String, Value>,
}

pub fn parse_plausible(json: &[u8]) -> Result<PlausibleEvent, String> {
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
    let props = match field("p", "props") {
        Some(Value::Object(props)) => props.clone(),
        // The script sends props as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(props)) => props,
            _ => return Err("props: must be an object".to_owned()),
        },
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("props: must be an object".to_owned()),
    };
    Ok(PlausibleEvent {
        name,
        url,
        domains,
        referrer: text("r", "referrer"),
        props,
    })
}

/// The Plausible event as an envelope; `visitor` from [`daily_visitor`].
pub fn plausible_event(
    request: PlausibleEvent,
    project_id: Uuid,
    visitor: String,
    received_at: OffsetDateTime,
    ip: &str,
) -> Event {
    let (kind, event) = if request.name == "pageview" {
        (EventKind::Page, "$pageview".to_owned())
    } else {
        (EventKind::Track, request.name)
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
        properties: request.props,
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
pub struct UmamiEvent {
    pub website: Uuid,
    pub kind: String,
    pub payload: Map<String, Value>,
}

pub fn parse_umami(json: &[u8]) -> Result<UmamiEvent, String> {
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
    pub fn host(&self) -> String {
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

pub fn umami_event(
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
    fn a_visitor_is_a_keyed_hash_stable_under_one_salt() {
        let project = Uuid::now_v7();
        let (salt, other) = (Salt([1; 32]), Salt([2; 32]));
        let a = daily_visitor(&salt, project, "203.0.113.7", "UA");
        assert_eq!(a, daily_visitor(&salt, project, "203.0.113.7", "UA"));
        assert_ne!(a, daily_visitor(&salt, Uuid::now_v7(), "203.0.113.7", "UA"));
        assert_ne!(a, daily_visitor(&salt, project, "203.0.113.8", "UA"));
        assert_ne!(a, daily_visitor(&other, project, "203.0.113.7", "UA"));
        assert_eq!(a.len(), 24);
        assert_eq!(format!("{salt:?}"), "Salt(..)", "a salt never prints");
    }

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
}
