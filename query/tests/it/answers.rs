//! The analytics API over a known dataset sent through the real ingest and sink: every answer
//! is compared with the figure computed here from the generated events, in the project's time
//! zone (Europe/Berlin, with an event just after local midnight). One stack answers every
//! endpoint group in turn (each group's checks in its own module), then every statement it ran
//! is run again on current ClickHouse.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::Stack;

/// One generated event.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    pub(crate) id: Uuid,
    pub(crate) user: String,
    pub(crate) event: &'static str,
    pub(crate) at: Timestamp,
    pub(crate) path: &'static str,
    pub(crate) plan: &'static str,
    /// Minutes after the user's first event, sent as a number property.
    pub(crate) minutes: i64,
}

/// Twelve users over six days, some with a second session, some signing up, three coming back
/// two days later, plus one night owl whose pageview at 23:30 UTC is already the next day in
/// Berlin.
fn dataset() -> Vec<Generated> {
    let berlin = TimeZone::get("Europe/Berlin").expect("zone");
    let mut events = Vec::new();
    for i in 0..12u32 {
        let day = 2 + (i % 6) as i8;
        let base = jiff::civil::date(2026, 11, day)
            .at(9, 0, 0, 0)
            .to_zoned(berlin.clone())
            .expect("time")
            .timestamp();
        let user = format!("user-{i}");
        let plan = if i % 3 == 0 { "pro" } else { "free" };
        let mut add = |event, minutes: i64, path| {
            events.push(Generated {
                id: Uuid::new_v4(),
                user: user.clone(),
                event,
                at: base + jiff::SignedDuration::from_mins(minutes),
                path,
                plan,
                minutes,
            });
        };
        add("$pageview", 0, "/home");
        add(
            "$pageview",
            10,
            if i % 2 == 0 { "/pricing" } else { "/docs" },
        );
        if i % 4 == 0 {
            add("signup", 12, "/pricing");
        }
        if i % 3 == 0 {
            // Forty minutes later: a second session, of one event.
            add("$pageview", 50, "/home");
        }
        if [1, 3, 4].contains(&i) {
            // Back two days later, in the evening.
            add("$pageview", 2 * 24 * 60 + 9 * 60, "/home");
        }
    }
    events.push(Generated {
        id: Uuid::new_v4(),
        user: "night-owl".to_owned(),
        event: "$pageview",
        at: "2026-11-03T23:30:00Z".parse().expect("time"),
        path: "/blog",
        plan: "free",
        minutes: 0,
    });
    events
}

/// Sessions of `events`: per user, split where two events are more than 30 minutes apart;
/// returns (sessions, sessions of one event).
pub(crate) fn sessions(events: &[&Generated]) -> (u64, u64) {
    let mut by_user: HashMap<&str, Vec<i64>> = HashMap::new();
    for event in events {
        by_user
            .entry(&event.user)
            .or_default()
            .push(event.at.as_second());
    }
    let (mut total, mut bounced) = (0, 0);
    for times in by_user.values_mut() {
        times.sort_unstable();
        let mut size = 1;
        for pair in times.windows(2) {
            if pair[1] - pair[0] > 1800 {
                total += 1;
                bounced += u64::from(size == 1);
                size = 0;
            }
            size += 1;
        }
        total += 1;
        bounced += u64::from(size == 1);
    }
    (total, bounced)
}

/// The project zone of the dataset.
pub(crate) fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").expect("zone")
}

/// The stack with the dataset stored, and what every group of checks asks with.
pub(crate) struct Fixture<'a> {
    pub(crate) stack: &'a Stack,
    /// An admin's access token.
    pub(crate) admin: String,
    pub(crate) project: String,
    /// `project_id`, `from` and `to` of the week of the dataset, as a query string.
    pub(crate) scope: String,
    pub(crate) events: Vec<Generated>,
}

impl Fixture<'_> {
    /// The stack, the admin's token, the scope's query string and the events.
    pub(crate) fn parts(&self) -> (&Stack, &str, &str, &[Generated]) {
        (self.stack, &self.admin, &self.scope, &self.events)
    }

    /// The distinct users of the dataset.
    pub(crate) fn users(&self) -> HashSet<&str> {
        self.events.iter().map(|e| e.user.as_str()).collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_matches_the_figures_computed_from_the_generated_events() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let (project, key) = stack.project_in(&admin, "Shop", "Europe/Berlin").await;

    let events = dataset();
    let batch: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "uuid": e.id, "event": e.event, "distinct_id": e.user,
                "timestamp": e.at.to_string(),
                "properties": { "$current_url": format!("https://shop.example{}", e.path), "plan": e.plan, "minutes": e.minutes },
            })
        })
        .collect();
    // Pages left (no events: their time on page and scroll depth), sent first so that they are
    // stored once the events are.
    stack
        .send_batch(
            &key,
            &crate::top::leaves_batch(&crate::top::leaves(&events)),
        )
        .await;
    for _ in 0..2 {
        // Sent twice: a client retry, counted once.
        stack.send_batch(&key, &batch).await;
    }

    let scope = format!("project_id={project}&from=2026-11-02&to=2026-11-08");
    // The query layer counts every event once, as soon as the sink stored them, and their
    // sessions once the insert that stored them returned (a reader may see its events a moment
    // before the sessions the view made of them).
    let expected_total = events.len() as f64;
    let expected_sessions = sessions(&events.iter().collect::<Vec<_>>()).0 as f64;
    let last = std::sync::Mutex::new(Value::Null);
    devstack::wait::until_async("the events counted", Duration::from_secs(30), || async {
        let (_, body) = stack
            .get(Some(&admin), &format!("/api/query/overview?{scope}"))
            .await;
        let counted = body["figures"]["events"]["value"].as_f64() == Some(expected_total)
            && body["figures"]["sessions"]["value"].as_f64() == Some(expected_sessions);
        *last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = body;
        counted
    })
    .await
    .unwrap_or_else(|err| {
        panic!(
            "{err}: {expected_total} events and {expected_sessions} sessions expected, the \
             overview said {:?}",
            last.lock()
        )
    });

    let fixture = Fixture {
        stack: &stack,
        admin,
        project,
        scope,
        events,
    };
    crate::overview::figures_and_filters(&fixture).await;
    crate::sessions::figures_and_pages(&fixture).await;
    crate::trends::series_per_day(&fixture).await;
    crate::top::top_paths(&fixture).await;
    crate::explorer::pages_and_one_event(&fixture).await;
    crate::journeys::funnel_and_retention(&fixture).await;
    crate::catalog::names_and_keys(&fixture).await;

    crate::current_clickhouse::same_answers_on_current_clickhouse(&stack, &sql_log);
}
