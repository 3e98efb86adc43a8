//! Retention comes from the top values' kept days in a project whose zone is UTC: the distinct
//! ids that did each event per day, made persons by the links as they are at each request. A
//! request again reads no day and, the links unchanged, not the links; a link made later merges
//! a kept day's ids, and every answer equals the one read straight from the events.

use serde_json::{Value, json};

use crate::helpers::{Stack, urlencode};
use crate::persons::post;
use crate::trend_days::{
    CHROME, day_reads_since, event, figure_reads, identify, link_reads, settle,
};

/// Three weeks from Monday, September 28th.
const WEEKS: &str = "from=2026-09-28&to=2026-10-18";

/// From a Wednesday morning to a Thursday noon: both ends cut a day.
const CUT: &str = "from=2026-09-30T06:00:00Z&to=2026-10-15T12:00:00Z";

/// Weekly returns to pages, daily returns to pages after a signup, and weekly returns over a
/// range cut at both ends, asking more periods than it holds.
fn requests() -> [(&'static str, Value); 3] {
    let pages = |periods: u32| json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "week", "periods": periods });
    [
        (WEEKS, pages(3)),
        (
            WEEKS,
            json!({ "start_event": "signup", "return_event": "$pageview", "period": "day", "periods": 2 }),
        ),
        (CUT, pages(5)),
    ]
}

/// Every retention, kept and straight from the events (a person filter every event meets).
async fn read_all(stack: &Stack, admin: &str, project: &str) -> Vec<(Value, Value)> {
    let everyone =
        json!([{ "key": "person:plan", "op": "neq", "value": "no such plan" }]).to_string();
    let mut pairs = Vec::new();
    for (scope, request) in requests() {
        let path = format!(
            "/api/query/retention?project_id={project}&{}",
            scope.replace(':', "%3A")
        );
        let straight = format!("{path}&filter={}", urlencode(&everyone));
        let kept = post(stack, admin, &path, request.clone()).await;
        let read = post(stack, admin, &straight, request).await;
        pairs.push((kept, read));
    }
    pairs
}

/// Start, size and returns of each cohort.
fn cohorts(answer: &Value) -> Vec<(String, u64, Vec<u64>)> {
    answer["cohorts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|cohort| {
            let returned = cohort["returned"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| n.as_u64().unwrap_or(u64::MAX))
                .collect();
            (
                cohort["start"].as_str().unwrap_or_default().to_owned(),
                cohort["size"].as_u64().unwrap_or(u64::MAX),
                returned,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_retention_follows_links_made_later_and_equals_the_events() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let (project, key) = stack.project_in(&admin, "Kept retention", "UTC").await;
    let page = |who: &str, at: &str| event("$pageview", who, at, "/", CHROME, json!({}));
    let batch = vec![
        page("anon-1", "2026-09-28T10:00:00Z"),
        page("ann", "2026-09-29T10:00:00Z"),
        page("ann", "2026-10-06T10:00:00Z"),
        event(
            "signup",
            "bob",
            "2026-09-30T09:00:00Z",
            "/",
            CHROME,
            json!({}),
        ),
        page("bob", "2026-10-01T10:00:00Z"),
        page("bob", "2026-10-14T10:00:00Z"),
        page("cat", "2026-10-07T10:00:00Z"),
        page("cat", "2026-10-15T10:00:00Z"),
        // Before the range: Dan's cohort is the week of his first page in it.
        page("dan", "2026-09-27T10:00:00Z"),
        page("dan", "2026-10-08T10:00:00Z"),
        page("anon-1", "2026-10-13T10:00:00Z"),
    ];
    stack.send_batch(&key, &batch).await;
    let settled = |week0: (u64, Vec<u64>), what: &'static str| {
        let (stack, admin, project) = (&stack, &admin, &project);
        settle(
            what,
            move || read_all(stack, admin, project),
            move |pairs| {
                cohorts(&pairs[0].0).first().map(|c| (c.1, c.2.clone())) == Some(week0.clone())
            },
        )
    };

    let first = settled((3, vec![3, 1, 2]), "three persons in the first week").await;
    assert_eq!(
        cohorts(&first[0].0),
        [
            ("2026-09-28".to_owned(), 3, vec![3, 1, 2]),
            ("2026-10-05".to_owned(), 2, vec![2, 1, 0]),
        ]
    );
    assert_eq!(
        cohorts(&first[1].0),
        [("2026-09-30".to_owned(), 1, vec![0, 1])],
        "Bob's page came the day after his signup"
    );
    assert_eq!(
        cohorts(&first[2].0),
        [
            ("2026-09-28".to_owned(), 1, vec![1, 0, 1, 0, 0]),
            ("2026-10-05".to_owned(), 3, vec![3, 1, 0, 0, 0]),
            ("2026-10-12".to_owned(), 1, vec![1, 0, 0, 0, 0]),
        ],
        "from Wednesday: Bob alone in the first week; Cat's page on Thursday morning counts"
    );

    // Read again: every whole day is kept, so only the cut range's two ends are read; and the
    // links, which did not change, are not read again.
    let reads = figure_reads(&sql_log);
    assert!(reads > 0, "the days were read to be kept");
    let links = link_reads(&sql_log);
    assert!(links > 0, "the links were read to be kept");
    read_all(&stack, &admin, &project).await;
    assert_eq!(link_reads(&sql_log), links, "the links were not read again");
    let log = std::fs::read_to_string(&sql_log).expect("the SQL log");
    let since: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" AS ids FROM events"))
        .skip(reads)
        .collect();
    assert_eq!(since.len(), 1, "one read, of the cut ends: {since:?}");
    assert!(
        since[0].contains("day IN (65535)"),
        "no whole day: {since:?}"
    );

    // On October 16th Ann says the anonymous visitor was her: September 28th, kept and not
    // read again, now holds her first page, and her week-2 return is anon-1's.
    let link = identify("ann", "anon-1", "2026-10-16T12:00:00Z");
    stack.send_batch(&key, &[link]).await;
    let linked = settled((2, vec![2, 1, 2]), "anon-1 is Ann").await;
    assert!(link_reads(&sql_log) > links, "the new link was read");
    assert_eq!(
        cohorts(&linked[0].0)[1],
        ("2026-10-05".to_owned(), 2, vec![2, 1, 0])
    );
    assert_eq!(
        day_reads_since(&sql_log, reads, "2026-09-28"),
        0,
        "September 28th was not read again"
    );
}
