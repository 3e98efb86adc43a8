//! The address an event came from, and where that is. A server SDK names its user's address
//! explicitly (PostHog's `$ip` property, Segment's `context.ip`, which the wire format moves to
//! `$ip`): that is the client address, else the request's. The address is looked up whole,
//! then kept only anonymised, and `$ip` leaves the properties, so the whole address is stored
//! nowhere. PostHog's `$geoip_disable: true` turns the lookup off for an event.

use std::net::IpAddr;

use contract::event::Event;
use serde_json::Value;

use super::geo::{GeoIp, Place};
use super::ip::anonymise;

/// The places of one request's events, which mostly share one address: each address is looked
/// up once, not once per event.
#[derive(Debug)]
pub(crate) struct Places<'g> {
    geoip: Option<&'g GeoIp>,
    /// The last address looked up, and where it is.
    last: Option<(IpAddr, Option<Place>)>,
}

impl<'g> Places<'g> {
    /// Places from `geoip`; without one, events keep only their anonymised address.
    pub(crate) fn new(geoip: Option<&'g GeoIp>) -> Self {
        Self { geoip, last: None }
    }

    /// Sets the anonymised address and the country, region and city of `event`, sent by
    /// `client`.
    pub(crate) fn enrich(&mut self, event: &mut Event, client: IpAddr) {
        let explicit = match event.properties.remove("$ip") {
            Some(Value::String(text)) => text.trim().parse::<IpAddr>().ok(),
            _ => None,
        };
        let address = explicit.unwrap_or(client).to_canonical();
        if explicit.is_some() {
            event.context.ip = anonymise(address);
        }
        let disabled = event.properties.get("$geoip_disable") == Some(&Value::Bool(true));
        let Some(geoip) = self.geoip.filter(|_| !disabled) else {
            return;
        };
        let place = match &self.last {
            Some((last, place)) if *last == address => place,
            _ => &self.last.insert((address, geoip.locate(address))).1,
        };
        if let Some(place) = place {
            let context = &mut event.context;
            context.country.clone_from(&place.country);
            context.region.clone_from(&place.region);
            context.city.clone_from(&place.city);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn event(properties: Value) -> Event {
        Event {
            event_id: Uuid::nil(),
            project_id: Uuid::nil(),
            kind: contract::event::EventKind::Track,
            event: "purchase".to_owned(),
            distinct_id: "u".to_owned(),
            user_id: None,
            session_id: None,
            timestamp: OffsetDateTime::UNIX_EPOCH,
            received_at: OffsetDateTime::UNIX_EPOCH,
            properties: properties.as_object().cloned().unwrap_or_default(),
            context: contract::event::EventContext {
                ip: "127.0.0.0".to_owned(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn an_explicit_address_replaces_the_requests_and_is_kept_only_anonymised() {
        let client: IpAddr = "127.0.0.1".parse().expect("ip");
        let mut places = Places::new(None);
        let mut explicit = event(json!({ "$ip": "8.8.8.8", "total": 3 }));
        places.enrich(&mut explicit, client);
        assert_eq!(explicit.context.ip, "8.8.8.0");
        assert_eq!(Value::Object(explicit.properties), json!({ "total": 3 }));
        let mut mapped = event(json!({ "$ip": "::ffff:203.0.113.9" }));
        places.enrich(&mut mapped, client);
        assert_eq!(mapped.context.ip, "203.0.113.0");
        let mut garbage = event(json!({ "$ip": "not an address" }));
        places.enrich(&mut garbage, client);
        assert_eq!(garbage.context.ip, "127.0.0.0", "the request's address");
        assert!(garbage.properties.is_empty(), "dropped all the same");
    }
}
