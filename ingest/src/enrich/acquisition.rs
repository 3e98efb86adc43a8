//! Where a visit came from: the campaign parameters (`utm_source`, `utm_medium`,
//! `utm_campaign`, `utm_term`, `utm_content`) and the acquisition channel, the same for every
//! wire format. A parameter is the event's property of that name when it has one, else what
//! the SDK's context said (Segment's `context.campaign`), else the page URL's query.

use contract::event::{Event, EventContext};
use serde_json::{Map, Value};

use super::channel::{Visit, channel};
use super::sources::{Category, category};

/// The longest campaign parameter kept, in bytes (a longer one is cut at a character
/// boundary): they are dimensions, not payloads.
const MAX_PARAMETER_BYTES: usize = 200;

/// Fills the campaign parameters and the channel of `event`. An event with no page, no
/// referrer and no campaign (a server SDK's) gets no channel: nothing says how it arrived.
pub(crate) fn enrich(event: &mut Event) {
    let Event {
        properties,
        context,
        ..
    } = event;
    let query = CampaignQuery::of(&context.url);
    for (key, field) in parameters(context) {
        if let Some(value) = property_text(properties, key) {
            *field = value;
        } else if field.is_empty() {
            if let Some(value) = query.get(key) {
                *field = value;
            }
        }
        truncate(field);
    }
    let referrer = external_referrer(context);
    let campaign_given = !context.utm_source.is_empty() || !context.utm_medium.is_empty();
    if context.url.is_empty() && referrer.is_empty() && !campaign_given {
        return;
    }
    let lower = |text: &str| text.trim().to_lowercase();
    let (source, medium) = if campaign_given {
        let source = match lower(&context.utm_source) {
            source if source.is_empty() => referrer.to_owned(),
            source => source,
        };
        let medium = match lower(&context.utm_medium) {
            medium if medium.is_empty() => "(not set)".to_owned(),
            medium => medium,
        };
        (source, medium)
    } else if let Some(source) = query.click_source {
        (source.to_owned(), "cpc".to_owned())
    } else if !referrer.is_empty() {
        let medium = if category(referrer) == Some(Category::Search) {
            "organic"
        } else {
            "referral"
        };
        (referrer.to_owned(), medium.to_owned())
    } else {
        ("(direct)".to_owned(), "(none)".to_owned())
    };
    context.channel = channel(Visit {
        source: &source,
        medium: &medium,
        campaign: &lower(&context.utm_campaign),
    })
    .to_owned();
}

/// The campaign parameters of the context, by name.
fn parameters(context: &mut EventContext) -> [(&'static str, &mut String); 5] {
    [
        ("utm_source", &mut context.utm_source),
        ("utm_medium", &mut context.utm_medium),
        ("utm_campaign", &mut context.utm_campaign),
        ("utm_term", &mut context.utm_term),
        ("utm_content", &mut context.utm_content),
    ]
}

/// The property `key` as text, when it is a non-empty string or a number.
fn property_text(properties: &Map<String, Value>, key: &str) -> Option<String> {
    match properties.get(key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The referrer's domain without `www.`, unless it is the page's own site: moving between
/// a site's pages is no acquisition.
fn external_referrer(context: &EventContext) -> &str {
    fn bare(host: &str) -> &str {
        let host = host.trim_end_matches('.');
        host.strip_prefix("www.").unwrap_or(host)
    }
    let referrer = bare(&context.referrer_domain);
    if referrer.is_empty() || referrer.eq_ignore_ascii_case(bare(&context.host)) {
        ""
    } else {
        referrer
    }
}

/// Cuts `text` to at most [`MAX_PARAMETER_BYTES`], at a character boundary.
fn truncate(text: &mut String) {
    if text.len() > MAX_PARAMETER_BYTES {
        let mut end = MAX_PARAMETER_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// What a page URL's query says about the visit: its `utm_*` parameters, and the search
/// engine whose ad click id it carries (Google's `gclid`, `gbraid`, `wbraid`; Microsoft's
/// `msclkid`), which GA4 reads as that engine's `cpc`.
#[derive(Debug, Default)]
struct CampaignQuery {
    parameters: Vec<(String, String)>,
    click_source: Option<&'static str>,
}

impl CampaignQuery {
    /// The campaign parameters of `url`'s query; a URL that names none is not parsed.
    fn of(url: &str) -> Self {
        let Some((_, rest)) = url.split_once('?') else {
            return Self::default();
        };
        let query = rest.split('#').next().unwrap_or_default();
        if !query.contains("utm_") && !query.contains("clid=") && !query.contains("braid=") {
            return Self::default();
        }
        let mut found = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "gclid" | "gbraid" | "wbraid" => {
                    found.click_source.get_or_insert("google");
                }
                "msclkid" => {
                    found.click_source.get_or_insert("bing");
                }
                // The first of a parameter given twice, as `URLSearchParams.get` reads it.
                key if key.starts_with("utm_")
                    && !value.trim().is_empty()
                    && found.get(key).is_none() =>
                {
                    found
                        .parameters
                        .push((key.to_owned(), value.trim().to_owned()));
                }
                _ => {}
            }
        }
        found
    }

    fn get(&self, key: &str) -> Option<String> {
        self.parameters
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn page(url: &str, referrer_domain: &str, properties: Value) -> Event {
        let (host, _) = crate::wire::urls::split_url(url);
        let mut event = Event {
            event_id: Uuid::nil(),
            project_id: Uuid::nil(),
            kind: contract::event::EventKind::Page,
            event: "$pageview".to_owned(),
            distinct_id: "u".to_owned(),
            user_id: None,
            session_id: None,
            timestamp: OffsetDateTime::UNIX_EPOCH,
            received_at: OffsetDateTime::UNIX_EPOCH,
            properties: properties.as_object().cloned().unwrap_or_default(),
            context: EventContext {
                url: url.to_owned(),
                host,
                referrer_domain: referrer_domain.to_owned(),
                ..EventContext::default()
            },
        };
        enrich(&mut event);
        event
    }

    #[test]
    fn campaign_parameters_come_from_the_url_unless_a_property_names_them() {
        let event = page(
            "https://shop.example/?utm_source=Newsletter&utm_medium=email&utm_campaign=black%20friday&utm_term=shoes+red&utm_content=hero#top",
            "",
            json!({}),
        );
        let c = &event.context;
        assert_eq!(
            [
                &c.utm_source,
                &c.utm_medium,
                &c.utm_campaign,
                &c.utm_term,
                &c.utm_content
            ],
            ["Newsletter", "email", "black friday", "shoes red", "hero"]
        );
        assert_eq!(c.channel, "Email");
        let explicit = page(
            "https://shop.example/?utm_source=newsletter&utm_medium=email",
            "",
            json!({ "utm_source": "facebook", "utm_medium": "cpc" }),
        );
        assert_eq!(
            (
                explicit.context.utm_source.as_str(),
                explicit.context.channel.as_str()
            ),
            ("facebook", "Paid Social"),
            "the property wins"
        );
    }

    #[test]
    fn referrers_click_ids_and_their_absence_give_the_channel() {
        let channel = |url: &str, referrer: &str| page(url, referrer, json!({})).context.channel;
        assert_eq!(
            channel("https://shop.example/", "www.google.com"),
            "Organic Search"
        );
        assert_eq!(
            channel("https://shop.example/", "l.facebook.com"),
            "Organic Social"
        );
        assert_eq!(channel("https://shop.example/", "blog.example"), "Referral");
        assert_eq!(channel("https://shop.example/", ""), "Direct");
        assert_eq!(
            channel("https://www.shop.example/b", "shop.example"),
            "Direct",
            "a page of the same site is no referrer"
        );
        assert_eq!(
            channel("https://shop.example/?gclid=abc", "www.google.com"),
            "Paid Search"
        );
        assert_eq!(
            channel("https://shop.example/?utm_medium=cpc", "www.google.com"),
            "Paid Search",
            "without utm_source the referrer is the source"
        );
        assert_eq!(channel("", ""), "", "a server event has no channel");
    }

    #[test]
    fn long_parameters_are_cut_at_a_character_boundary() {
        let long = "é".repeat(150);
        let event = page(
            &format!("https://shop.example/?utm_campaign={long}"),
            "",
            json!({}),
        );
        assert_eq!(event.context.utm_campaign, "é".repeat(100));
    }
}
