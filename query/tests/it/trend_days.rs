//! Trends of counts and sums come from days the service keeps between requests: a request
//! again reads no whole day, a late event into a kept day and an erasure show at the next
//! request, and every answer equals the one read straight from the events (the same trend with
//! a filter on a person's property that keeps every event, which is never kept).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Stack, eventually, urlencode};

pub(crate) const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/120.0.0.0 Safari/537.36";
pub(crate) const FIREFOX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

/// An event of `who` at `at` (RFC 3339) on `path`, from `agent`, with `properties`.
pub(crate) fn event(
    name: &str,
    who: &str,
    at: &str,
    path: &str,
    agent: &str,
    properties: Value,
) -> Value {
    let mut all = json!({
        "$current_url": format!("https://shop.example{path}"), "$raw_user_agent": agent,
    });
    if let (Some(all), Some(more)) = (all.as_object_mut(), properties.as_object()) {
        all.extend(more.clone());
    }
    json!({ "event": name, "distinct_id": who, "timestamp": at, "properties": all })
}

/// The trends compared: a breakdown by browser by hour with the period before (one top value,
/// the rest as "other"), a sum of a property per day of one event, and weekly paths of one
/// browser only.
fn trends(scope: &str) -> Vec<String> {
    let chrome =
        urlencode(&json!([{ "key": "browser", "op": "eq", "value": "Chrome" }]).to_string());
    vec![
        format!("/api/query/trends?{scope}&interval=hour&breakdown=browser&limit=1&compare=true"),
        format!("/api/query/trends?{scope}&interval=day&measure=sum&property=amount&event=signup"),
        format!("/api/query/trends?{scope}&interval=week&breakdown=path&filter={chrome}"),
    ]
}

/// The same trend read straight from the events: with a person filter every event meets.
pub(crate) fn straight(path: &str) -> String {
    let everyone =
        json!([{ "key": "person:plan", "op": "neq", "value": "no such plan" }]).to_string();
    match path.split_once("&filter=") {
        Some((before, _)) => {
            let chrome = json!([
                { "key": "browser", "op": "eq", "value": "Chrome" },
                { "key": "person:plan", "op": "neq", "value": "no such plan" },
            ]);
            format!("{before}&filter={}", urlencode(&chrome.to_string()))
        }
        None => format!("{path}&filter={}", urlencode(&everyone)),
    }
}

/// Every trend, kept and straight.
async fn read_all(stack: &Stack, admin: &str, scope: &str) -> Vec<(Value, Value)> {
    let mut pairs = Vec::new();
    for path in trends(scope) {
        let (status, kept) = stack.get(Some(admin), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {kept}");
        let (status, read) = stack.get(Some(admin), &straight(&path)).await;
        assert_eq!(status, StatusCode::OK, "{path} straight: {read}");
        pairs.push((kept, read));
    }
    pairs
}

/// The events of all series of a trend answer.
fn total(answer: &Value) -> u64 {
    answer["series"]
        .as_array()
        .map(|series| series.iter().filter_map(|s| s["total"].as_u64()).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_trend_days_follow_late_events_and_erasures_and_equal_the_events() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let (project, key) = stack
        .project_in(&admin, "Kept trends", "Europe/Berlin")
        .await;
    let none = json!({});
    let batch = vec![
        event(
            "$pageview",
            "ann",
            "2026-10-03T10:00:00Z",
            "/",
            CHROME,
            none.clone(),
        ),
        event(
            "$pageview",
            "ann",
            "2026-10-03T10:20:00Z",
            "/pricing",
            CHROME,
            none.clone(),
        ),
        event(
            "signup",
            "ann",
            "2026-10-03T10:21:00Z",
            "/pricing",
            CHROME,
            json!({ "amount": "12.5" }),
        ),
        event(
            "$pageview",
            "bob",
            "2026-10-04T22:30:00Z",
            "/",
            FIREFOX,
            none.clone(),
        ),
        event(
            "signup",
            "bob",
            "2026-10-04T22:31:00Z",
            "/",
            FIREFOX,
            json!({ "amount": "7" }),
        ),
        // The first local day's first hour is the UTC day before; the period before has one.
        event(
            "$pageview",
            "cat",
            "2026-09-30T22:10:00Z",
            "/docs",
            CHROME,
            none.clone(),
        ),
        event(
            "$pageview",
            "dan",
            "2026-09-27T09:00:00Z",
            "/",
            FIREFOX,
            none.clone(),
        ),
    ];
    stack.send_batch(&key, &batch).await;
    let scope = format!("project_id={project}&from=2026-10-01&to=2026-10-07");
    let settled = |events: u64, what: &'static str| {
        let (stack, admin, scope) = (&stack, &admin, &scope);
        settle(
            what,
            move || read_all(stack, admin, scope),
            move |pairs| total(&pairs[0].0) == events,
        )
    };

    let first = settled(6, "the week's six events").await;
    let series = first[0].0["series"].as_array().expect("series").clone();
    assert_eq!(series.len(), 2, "Chrome, then the rest: {series:?}");
    assert_eq!(
        (series[0]["label"].clone(), series[0]["total"].clone()),
        (json!("Chrome"), json!(4))
    );
    assert_eq!(
        (series[1]["label"].clone(), series[1]["total"].clone()),
        (json!("other"), json!(2))
    );
    assert_eq!(
        first[0].0["previous_series"][1]["total"],
        json!(1),
        "Dan, the week before"
    );
    assert_eq!(
        first[1].0["series"][0]["total"],
        json!(19.5),
        "Ann's 12.5 and Bob's 7"
    );
    let reads = figure_reads(&sql_log);
    read_all(&stack, &admin, &scope).await;
    let last = std::fs::read_to_string(&sql_log)
        .expect("the SQL log")
        .lines()
        .rfind(|line| line.contains(" AS ids FROM events"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert_eq!(figure_reads(&sql_log), reads + 3, "one read of each trend");
    assert!(
        last.contains("day IN (65535) LIMIT"),
        "the last read took no whole day: {last}"
    );

    // A late event into a day already kept: Eve on October 3rd, with Chrome.
    let late = event(
        "$pageview",
        "eve",
        "2026-10-03T15:00:00Z",
        "/docs",
        CHROME,
        none.clone(),
    );
    stack.send_batch(&key, &[late]).await;
    let later = settled(7, "Eve's late event counted").await;
    assert_eq!(later[0].0["series"][0]["total"], json!(5));

    // Ann erased: her three events are gone from the kept day too.
    let status = stack
        .delete(
            &admin,
            &format!("/api/admin/projects/{project}/persons/ann"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let erased = settled(4, "Ann's events erased").await;
    assert_eq!(
        erased[1].0["series"][0]["total"],
        json!(7.0),
        "Bob's 7 only"
    );
}

/// How many reads of kept-day figures the SQL log holds.
pub(crate) fn figure_reads(sql_log: &std::path::Path) -> usize {
    std::fs::read_to_string(sql_log)
        .expect("the SQL log")
        .lines()
        .filter(|line| line.contains(" AS ids FROM events"))
        .count()
}

/// How many times the SQL log read the identity links to keep them (with their state, as the
/// kept days do; not joined to the events, as a statement straight from the events does).
pub(crate) fn link_reads(sql_log: &std::path::Path) -> usize {
    std::fs::read_to_string(sql_log)
        .expect("the SQL log")
        .lines()
        .filter(|line| line.contains(" AS linked_hash, toUInt64(count()) AS rows"))
        .count()
}

/// How many reads of ids' figures after the first `skip` read the UTC day `day` (as
/// `YYYY-MM-DD`).
pub(crate) fn day_reads_since(sql_log: &std::path::Path, skip: usize, day: &str) -> usize {
    let midnight = format!("{day}T00:00:00Z")
        .parse::<jiff::Timestamp>()
        .expect("a day")
        .as_second();
    let bound = format!("toDate(toDateTime({midnight}), 'UTC')");
    std::fs::read_to_string(sql_log)
        .expect("the SQL log")
        .lines()
        .filter(|line| line.contains(" AS ids FROM events"))
        .skip(skip)
        .filter(|line| line.contains(&bound))
        .count()
}

/// Reads the answers, kept and straight from the events (`read_all`), until every pair agrees
/// and `done` holds; then reads them again, from the kept days now, and checks they stand.
pub(crate) async fn settle<F, Fut>(
    what: &str,
    mut read_all: F,
    done: impl Fn(&[(Value, Value)]) -> bool,
) -> Vec<(Value, Value)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<(Value, Value)>>,
{
    let pairs = eventually(what, &mut read_all, |pairs: &Vec<(Value, Value)>| {
        pairs.iter().all(|(kept, read)| kept == read) && done(pairs)
    })
    .await;
    assert_eq!(pairs, read_all().await, "{what}, read again");
    pairs
}

/// `who` says, at `at`, that the anonymous visitor `anonymous` was them.
pub(crate) fn identify(who: &str, anonymous: &str, at: &str) -> Value {
    event(
        "$identify",
        who,
        at,
        "/",
        CHROME,
        json!({ "$anon_distinct_id": anonymous }),
    )
}

/// A breakdown of more values a day than are worth keeping (21 000 over the two UTC days a
/// local day spans, where 10 000 a day are kept) is read from the events, right, and not tried
/// again.
#[tokio::test(flavor = "multi_thread")]
async fn a_trend_of_too_many_values_a_day_is_read_from_the_events() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    // The local day is two cut UTC days, which a kept trend reads at every request.
    let (project, key) = stack
        .project_in(&admin, "Many values", "Europe/Berlin")
        .await;
    const EVENTS: usize = 21_000;
    let events: Vec<Value> = (0..EVENTS)
        .map(|i| {
            let n = json!({ "n": format!("value {i:05}"), "weight": (i % 3).to_string() });
            event(
                "tick",
                &format!("u{i}"),
                "2026-10-03T10:00:00Z",
                "/",
                CHROME,
                n,
            )
        })
        .collect();
    // Past the project's intake quota a batch is refused whole (429) and sent again.
    for batch in events.chunks(1_000) {
        let body = json!({ "api_key": key, "batch": batch });
        let taken = || async {
            let sent = stack.http.post(stack.ingest().url("/batch/")).json(&body);
            sent.send()
                .await
                .is_ok_and(|answer| answer.status() == StatusCode::OK)
        };
        devstack::wait::until_async("a batch taken", Duration::from_secs(120), taken)
            .await
            .expect("taken");
    }
    let (server, database) = stack.clickhouse();
    devstack::wait::until("the events stored", Duration::from_secs(120), || {
        server
            .query_in(database, "SELECT uniqExact(event_id) FROM events")
            .is_ok_and(|count| count.trim() == EVENTS.to_string())
    })
    .expect("stored");
    let path = format!(
        "/api/query/trends?project_id={project}&from=2026-10-03&to=2026-10-03&interval=hour\
         &breakdown=property:n&measure=sum&property=weight&limit=3"
    );
    let (status, read) = stack.get(Some(&admin), &straight(&path)).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    for round in 0..2 {
        let (status, answer) = stack.get(Some(&admin), &path).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, read, "round {round}");
    }
    // Weights of 2 rank first; then values by their text.
    let labels: Vec<&str> = read["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter_map(|s| s["label"].as_str())
        .collect();
    assert_eq!(
        labels,
        ["value 00002", "value 00005", "value 00008", "other"]
    );
    assert_eq!(
        figure_reads(&sql_log),
        1,
        "tried once, then read from the events"
    );
}
