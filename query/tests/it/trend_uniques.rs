//! Trends of distinct persons come from days the service keeps between requests too: the days
//! keep the distinct ids they saw, and the identity links as they are at each request make them
//! persons, so a link made after a day was kept merges that day's ids at the next request,
//! though the day is not read again. Every answer equals the one read straight from the events.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::Stack;
use crate::trend_days::{
    CHROME, FIREFOX, day_reads_since, event, figure_reads, identify, settle, straight,
};

/// Distinct persons by day with the period before (kept per UTC day), by hour broken down by
/// path with one top value (kept per hour), and by week of pageviews only.
fn trends(scope: &str) -> Vec<String> {
    vec![
        format!("/api/query/trends?{scope}&interval=day&measure=uniques&compare=true"),
        format!("/api/query/trends?{scope}&interval=hour&measure=uniques&breakdown=path&limit=1"),
        format!("/api/query/trends?{scope}&interval=week&measure=uniques&event=%24pageview"),
    ]
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

/// The values of the points of a series.
fn values(series: &Value) -> Vec<u64> {
    series["points"]
        .as_array()
        .map(|points| points.iter().filter_map(|p| p["value"].as_u64()).collect())
        .unwrap_or_default()
}

/// The persons of the weekly trend of pageviews, and the persons by day summed, kept.
fn totals(pairs: &[(Value, Value)]) -> (Value, Value) {
    let total = |at: usize| pairs[at].0["series"][0]["total"].clone();
    (total(2), total(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_distinct_persons_follow_links_made_later_and_equal_the_events() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let (project, key) = stack.project_in(&admin, "Kept persons", "UTC").await;
    let view = |who: &str, at: &str, path: &str, agent: &str| {
        event("$pageview", who, at, path, agent, json!({}))
    };
    let batch = vec![
        // October 1st: an anonymous visitor, Ann, Bob.
        view("anon-1", "2026-10-01T10:00:00Z", "/", CHROME),
        view("ann", "2026-10-01T11:00:00Z", "/", CHROME),
        view("bob", "2026-10-01T12:00:00Z", "/pricing", FIREFOX),
        // October 2nd: Ann and Bob.
        view("ann", "2026-10-02T09:00:00Z", "/pricing", CHROME),
        view("bob", "2026-10-02T23:30:00Z", "/", FIREFOX),
        // The period before: Cat.
        view("cat", "2026-09-29T10:00:00Z", "/", CHROME),
    ];
    stack.send_batch(&key, &batch).await;
    let scope = format!("project_id={project}&from=2026-10-01&to=2026-10-03");
    let settled = |done: fn(&[(Value, Value)]) -> bool, what: &'static str| {
        let (stack, admin, scope) = (&stack, &admin, &scope);
        settle(what, move || read_all(stack, admin, scope), done)
    };

    let first = settled(
        |pairs| totals(pairs) == (json!(3), json!(5)),
        "three persons seen",
    )
    .await;
    assert_eq!(values(&first[0].0["series"][0]), [3, 2, 0], "by day");
    assert_eq!(values(&first[0].0["previous_series"][0]), [0, 1, 0], "Cat");
    let paths = first[1].0["series"].as_array().expect("series");
    let labels: Vec<&Value> = paths.iter().map(|s| &s["label"]).collect();
    // "/" saw three persons, "/pricing" two.
    assert_eq!(labels, [&json!("/"), &json!("other")]);
    assert_eq!(
        paths[0]["total"],
        json!(3),
        "a person in each of three hours"
    );

    // Read again: every day is whole and kept, so no figure is read.
    let reads = figure_reads(&sql_log);
    read_all(&stack, &admin, &scope).await;
    assert_eq!(figure_reads(&sql_log), reads, "nothing read again");

    // On October 3rd Ann says the anonymous visitor was her: October 1st, kept and not read
    // again (its counter did not move), now counts two persons.
    let link = identify("ann", "anon-1", "2026-10-03T08:00:00Z");
    stack.send_batch(&key, &[link]).await;
    let linked = settled(
        |pairs| totals(pairs) == (json!(2), json!(5)),
        "anon-1 is Ann, and her link counted on its day",
    )
    .await;
    assert_eq!(values(&linked[0].0["series"][0]), [2, 2, 1], "by day");
    assert_eq!(
        day_reads_since(&sql_log, reads, "2026-10-01"),
        0,
        "October 1st was not read again"
    );
}
