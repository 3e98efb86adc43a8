//! The demo traffic is seeded, lifelike and packed within the limits of each route.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use time::{OffsetDateTime, Weekday};
use uuid::Uuid;

use super::generate::generate;
use super::plan::{FUNNEL, Plan};
use super::shop::NETWORKS;
use super::summary::Summary;
use super::wire::{MAX_BATCH_BYTES, Wire, batches};

fn now() -> OffsetDateTime {
    // A Wednesday afternoon.
    OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("a valid instant")
}

fn plan(visitors: u32, seed: u64) -> Plan {
    Plan {
        visitors,
        seed,
        ..Plan::default()
    }
}

#[test]
fn the_same_seed_makes_the_same_traffic_and_another_seed_other_traffic() {
    let first = generate(&plan(200, 7), now());
    assert_eq!(first, generate(&plan(200, 7), now()));
    assert_ne!(first, generate(&plan(200, 8), now()));
    let ids: BTreeSet<Uuid> = first.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), first.len(), "every event has an id of its own");
}

#[test]
fn every_event_lies_in_the_requested_days_before_the_run() {
    for days in [1, 3, 28] {
        let plan = Plan {
            days,
            ..plan(300, 3)
        };
        let events = generate(&plan, now());
        let start = now() - time::Duration::days(i64::from(days));
        assert!(!events.is_empty());
        for event in &events {
            assert!(
                event.timestamp >= start && event.timestamp < now(),
                "{days} days: {} is outside {start} .. {}",
                event.timestamp,
                now()
            );
        }
        assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    }
    let summary = Summary::of(&generate(&Plan::default(), now()));
    assert!(summary.days >= 28, "{} days", summary.days);
}

#[test]
fn the_funnel_narrows_at_every_step_with_realistic_drop_off() {
    for (visitors, seed) in [(1500, 1), (1500, 2), (120, 7), (120, 11)] {
        let summary = Summary::of(&generate(&plan(visitors, seed), now()));
        let f = summary.funnel;
        assert!(
            f[0] > f[1] && f[1] > f[2] && f[2] > f[3] && f[3] > 0,
            "{visitors} visitors, seed {seed}: {f:?}"
        );
        if visitors >= 1000 {
            let rate = |step: usize| f[step] as f64 / f[step - 1] as f64;
            assert!((0.25..0.6).contains(&rate(1)), "{f:?}");
            assert!((0.45..0.75).contains(&rate(2)), "{f:?}");
            assert!((0.55..0.85).contains(&rate(3)), "{f:?}");
        }
    }
}

#[test]
fn about_the_configured_share_of_visitors_comes_back_on_another_day() {
    for share in [0.2, 0.35] {
        let plan = Plan {
            returning_share: share,
            ..plan(3000, 5)
        };
        let summary = Summary::of(&generate(&plan, now()));
        assert_eq!(summary.visitors, 3000);
        let measured = summary.returning_visitors as f64 / summary.visitors as f64;
        assert!(
            (measured - share).abs() < 0.04,
            "configured {share}, measured {measured}"
        );
    }
}

#[test]
fn weekends_and_nights_are_quieter() {
    let events = generate(&plan(3000, 9), now());
    let pageviews = events.iter().filter(|e| e.event == "$pageview");
    let (mut weekday, mut weekend, mut night, mut evening) = (0, 0, 0, 0);
    for event in pageviews {
        match event.timestamp.weekday() {
            Weekday::Saturday | Weekday::Sunday => weekend += 1,
            _ => weekday += 1,
        }
        match event.timestamp.hour() {
            2..=4 => night += 1,
            18..=20 => evening += 1,
            _ => {}
        }
    }
    // Per day: five weekdays against two weekend days.
    assert!(weekend * 5 < weekday * 2 * 8 / 10, "{weekday} / {weekend}");
    assert!(night * 5 < evening, "{night} / {evening}");
}

#[test]
fn visitors_have_a_mix_of_browsers_devices_and_referrers() {
    let events = generate(&plan(1000, 4), now());
    let values = |key: &str| -> BTreeSet<String> {
        events
            .iter()
            .filter_map(|e| e.properties.get(key).and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };
    for browser in ["Chrome", "Safari", "Firefox", "Edge", "Mobile Safari"] {
        assert!(values("$browser").contains(browser), "{browser}");
    }
    assert_eq!(
        values("$device_type"),
        ["Desktop", "Mobile", "Tablet"].map(str::to_owned).into()
    );
    for domain in ["www.google.com", "x.com", "news.ycombinator.com", "$direct"] {
        assert!(values("$referring_domain").contains(domain), "{domain}");
    }
    assert_eq!(values("utm_campaign").len(), 1);
    let networks: BTreeSet<&str> = values("$ip")
        .iter()
        .filter_map(|ip| {
            NETWORKS
                .iter()
                .find(|((n, _), _)| ip.rsplit_once('.').is_some_and(|(p, _)| p == *n))
        })
        .map(|((_, country), _)| *country)
        .collect();
    assert!(
        networks.len() >= 10,
        "visitors from many countries: {networks:?}"
    );
    let names: BTreeSet<&str> = events.iter().map(|e| e.event).collect();
    for name in FUNNEL
        .iter()
        .chain(&["$pageview", "signup", "search", "tab_changed"])
    {
        assert!(names.contains(name), "{name}");
    }
    // One visitor keeps one machine across sessions.
    let mut browsers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for event in events.iter().filter(|e| e.wire == Wire::Posthog) {
        if let Some(browser) = event.properties.get("$browser").and_then(Value::as_str) {
            browsers
                .entry(&event.distinct_id)
                .or_default()
                .insert(browser);
        }
    }
    assert!(browsers.values().all(|b| b.len() == 1));
}

#[test]
fn batches_carry_every_event_once_within_the_limits_of_each_route() {
    let events = generate(&plan(300, 2), now());
    let batches = batches(&events, "ea_key", 500);
    let mut ids = BTreeSet::new();
    for batch in &batches {
        assert!(batch.events <= 500 && batch.body.len() <= MAX_BATCH_BYTES);
        let body: Value = serde_json::from_str(&batch.body).expect("a JSON body");
        let items = body["batch"].as_array().expect("a batch");
        assert_eq!(items.len(), batch.events);
        for item in items {
            let id = match batch.wire {
                Wire::Posthog => {
                    assert_eq!(body["api_key"], "ea_key");
                    assert!(item["properties"]["$current_url"].is_string());
                    &item["uuid"]
                }
                Wire::Segment => {
                    assert_eq!(body["writeKey"], "ea_key");
                    assert_eq!(item["event"], "order_completed");
                    &item["messageId"]
                }
            };
            assert!(item["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
            ids.insert(id.as_str().expect("an id").to_owned());
        }
    }
    assert_eq!(ids.len(), events.len());
    assert!(batches.iter().any(|b| b.wire == Wire::Segment));
}
