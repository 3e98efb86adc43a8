//! Sessions in the overview and the top lists, read from the sessions table the sink keeps:
//! count, bounce rate, average length and pages per session, entry and exit pages, with and
//! without filters, each equal to what the test computes from the events it sent (no
//! `$session_id`: 30 minutes of inactivity end a session), and the overview's count equal to
//! the sessions table's.

use std::collections::{BTreeMap, HashMap, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::{Fixture, Generated};
use crate::helpers::urlencode;

/// One session the test computes.
#[derive(Debug)]
struct Visit<'a> {
    user: &'a str,
    events: Vec<&'a Generated>,
}

impl Visit<'_> {
    fn seconds(&self) -> i64 {
        let last = self.events[self.events.len() - 1].at.as_second();
        last - self.events[0].at.as_second()
    }

    fn pages(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter(|event| event.event == "$pageview")
            .map(|event| event.path)
            .collect()
    }
}

/// The sessions of `events`: per user, in time order, split where 30 minutes pass.
fn visits(events: &[Generated]) -> Vec<Visit<'_>> {
    let mut by_user: BTreeMap<&str, Vec<&Generated>> = BTreeMap::new();
    for event in events {
        by_user.entry(&event.user).or_default().push(event);
    }
    let mut visits = Vec::new();
    for (user, mut events) in by_user {
        events.sort_by_key(|event| event.at);
        let mut current: Vec<&Generated> = Vec::new();
        for event in events {
            let gap = current
                .last()
                .map(|last| event.at.as_second() - last.at.as_second());
            if gap.is_some_and(|gap| gap > 1800) {
                visits.push(Visit {
                    user,
                    events: std::mem::take(&mut current),
                });
            }
            current.push(event);
        }
        visits.push(Visit {
            user,
            events: current,
        });
    }
    visits
}

/// The figures the overview gives for `visits`, with `pageviews` in the range.
fn figures(visits: &[&Visit<'_>], pageviews: usize) -> (f64, f64, f64, f64) {
    let n = visits.len() as f64;
    let bounced = visits.iter().filter(|v| v.events.len() == 1).count() as f64;
    let seconds: i64 = visits.iter().map(|v| v.seconds()).sum();
    (n, bounced / n, seconds as f64 / n, pageviews as f64 / n)
}

/// The overview's figures of sessions, as the test computes them.
fn answered(overview: &Value) -> (f64, f64, f64, f64) {
    let figure = |name: &str| overview["figures"][name]["value"].as_f64().unwrap_or(-1.0);
    (
        figure("sessions"),
        figure("bounce_rate"),
        figure("avg_session_seconds"),
        figure("pages_per_session"),
    )
}

/// The first pageview's path of a session.
fn entry(visit: &Visit<'_>) -> Option<&'static str> {
    visit.pages().first().copied()
}

/// The last pageview's path of a session.
fn exit(visit: &Visit<'_>) -> Option<&'static str> {
    visit.pages().last().copied()
}

/// Top values of entry or exit pages of `visits`, most sessions first.
fn ranked(visits: &[&Visit<'_>], page: fn(&Visit<'_>) -> Option<&'static str>) -> Value {
    let mut pages: HashMap<&str, (u64, HashSet<&str>)> = HashMap::new();
    for visit in visits {
        if let Some(path) = page(visit) {
            let entry = pages.entry(path).or_default();
            entry.0 += 1;
            entry.1.insert(visit.user);
        }
    }
    let mut ranked: Vec<(&str, u64, usize)> = pages
        .iter()
        .map(|(path, (count, users))| (*path, *count, users.len()))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    json!(
        ranked
            .iter()
            .map(|(path, count, users)| json!({ "value": path, "count": count, "users": users }))
            .collect::<Vec<_>>()
    )
}

/// Overview and top lists of sessions, without and with a filter; the count equal to the
/// sessions table's.
pub(crate) async fn figures_and_pages(fixture: &Fixture<'_>) {
    let (stack, admin, scope, events) = fixture.parts();
    let all = visits(events);
    let every: Vec<&Visit<'_>> = all.iter().collect();
    let pageviews = events.iter().filter(|e| e.event == "$pageview").count();
    let (status, overview) = stack
        .get(Some(admin), &format!("/api/query/overview?{scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(
        answered(&overview),
        figures(&every, pageviews),
        "{overview}"
    );

    // The sessions table holds as many sessions started in the range.
    let (server, database) = stack.clickhouse();
    let (from, to) = (
        overview["range"]["from"].as_str().expect("from"),
        overview["range"]["to"].as_str().expect("to"),
    );
    let seconds = |at: &str| at.parse::<jiff::Timestamp>().expect("a time").as_second();
    let table = server
        .query_in(
            database,
            &format!(
                "SELECT count() FROM (SELECT toUInt32(minMerge(started)) AS s FROM sessions \
                 WHERE project_id = '{}' GROUP BY session_id HAVING s >= {} AND s < {})",
                fixture.project,
                seconds(from),
                seconds(to)
            ),
        )
        .expect("sessions");
    assert_eq!(
        table.trim().parse::<f64>().ok(),
        overview["figures"]["sessions"]["value"].as_f64()
    );

    // Entry and exit pages, and the entry pages of the sessions with a signup.
    let top = |query: String| async move {
        let (status, top) = stack
            .get(Some(admin), &format!("/api/query/top?{scope}&{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{top}");
        top["values"].clone()
    };
    let with_signup: Vec<&Visit<'_>> = every
        .iter()
        .copied()
        .filter(|v| v.events.iter().any(|e| e.event == "signup"))
        .collect();
    assert_eq!(
        top("dimension=entry_page&limit=100".to_owned()).await,
        ranked(&every, entry)
    );
    assert_eq!(
        top("dimension=exit_page&limit=100".to_owned()).await,
        ranked(&every, exit)
    );
    assert_eq!(
        top("dimension=entry_page&event=signup".to_owned()).await,
        ranked(&with_signup, entry)
    );

    // A filter on events: the sessions holding an event it keeps.
    let filter = json!([{ "key": "path", "op": "eq", "value": "/pricing" }]).to_string();
    let (status, filtered) = stack
        .get(
            Some(admin),
            &format!("/api/query/overview?{scope}&filter={}", urlencode(&filter)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{filtered}");
    let pricing: Vec<&Visit<'_>> = every
        .iter()
        .copied()
        .filter(|v| v.events.iter().any(|e| e.path == "/pricing"))
        .collect();
    let pricing_views = events
        .iter()
        .filter(|e| e.event == "$pageview" && e.path == "/pricing")
        .count();
    assert_eq!(answered(&filtered), figures(&pricing, pricing_views));

    // Filters and breakdowns are about events: a dimension of sessions is refused there.
    let filter = json!([{ "key": "entry_page", "op": "eq", "value": "/home" }]).to_string();
    let (status, refused) = stack
        .get(
            Some(admin),
            &format!("/api/query/overview?{scope}&filter={}", urlencode(&filter)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
}
