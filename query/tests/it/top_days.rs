//! Top values come from days the service keeps between requests: each value's events and the
//! distinct ids that sent them, made persons by the identity links as they are at each request. A
//! request again reads no whole day, a link made later merges a kept day's ids, and every
//! answer equals the one read straight from the events.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Stack, urlencode};
use crate::trend_days::{CHROME, FIREFOX, day_reads_since, event, figure_reads, identify, settle};

/// Top paths, top browsers of pageviews, and the one top plan.
fn tops(scope: &str) -> Vec<String> {
    vec![
        format!("/api/query/top?{scope}&dimension=path"),
        format!("/api/query/top?{scope}&dimension=browser&event=%24pageview"),
        format!("/api/query/top?{scope}&dimension=property:plan&limit=1"),
    ]
}

/// The same top values read straight from the events: with a person filter every event meets.
fn straight(path: &str) -> String {
    let everyone =
        json!([{ "key": "person:plan", "op": "neq", "value": "no such plan" }]).to_string();
    format!("{path}&filter={}", urlencode(&everyone))
}

/// Every top list, kept and straight.
async fn read_all(stack: &Stack, admin: &str, scope: &str) -> Vec<(Value, Value)> {
    let mut pairs = Vec::new();
    for path in tops(scope) {
        let (status, kept) = stack.get(Some(admin), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {kept}");
        let (status, read) = stack.get(Some(admin), &straight(&path)).await;
        assert_eq!(status, StatusCode::OK, "{path} straight: {read}");
        pairs.push((kept, read));
    }
    pairs
}

/// Value, events and users of each row of a kept top list.
fn rows(answer: &Value) -> Vec<(String, u64, u64)> {
    answer["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| {
                    let number = |field: &str| v[field].as_u64().unwrap_or(u64::MAX);
                    let value = v["value"].as_str().unwrap_or_default().to_owned();
                    (value, number("count"), number("users"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_top_values_follow_links_made_later_and_equal_the_events() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    // The range's local days cut the UTC days at both ends.
    let (project, key) = stack.project_in(&admin, "Kept tops", "Europe/Berlin").await;
    let pro = json!({ "plan": "pro" });
    let free = json!({ "plan": "free" });
    let batch = vec![
        event(
            "$pageview",
            "anon-1",
            "2026-10-01T10:00:00Z",
            "/",
            CHROME,
            free.clone(),
        ),
        event(
            "$pageview",
            "ann",
            "2026-10-01T11:00:00Z",
            "/",
            CHROME,
            pro.clone(),
        ),
        event(
            "$pageview",
            "ann",
            "2026-10-01T11:05:00Z",
            "/pricing",
            CHROME,
            pro.clone(),
        ),
        event(
            "signup",
            "ann",
            "2026-10-01T11:06:00Z",
            "/pricing",
            CHROME,
            pro.clone(),
        ),
        event(
            "$pageview",
            "bob",
            "2026-10-02T12:00:00Z",
            "/",
            FIREFOX,
            free.clone(),
        ),
        // The first local day starts on the UTC day before; the last ends on the day after.
        event(
            "$pageview",
            "cat",
            "2026-09-30T22:30:00Z",
            "/docs",
            FIREFOX,
            free.clone(),
        ),
        event(
            "$pageview",
            "dan",
            "2026-10-03T21:30:00Z",
            "/",
            CHROME,
            free.clone(),
        ),
        // Outside the range.
        event(
            "$pageview",
            "eve",
            "2026-09-30T21:30:00Z",
            "/",
            CHROME,
            free.clone(),
        ),
    ];
    stack.send_batch(&key, &batch).await;
    let scope = format!("project_id={project}&from=2026-10-01&to=2026-10-03");
    // Settled when the kept and the straight lists agree, and "/" has its events and users.
    let settled = |root: (u64, u64), what: &'static str| {
        let (stack, admin, scope) = (&stack, &admin, &scope);
        settle(
            what,
            move || read_all(stack, admin, scope),
            move |pairs| rows(&pairs[0].0).first().map(|row| (row.1, row.2)) == Some(root),
        )
    };

    let first = settled((4, 4), "four visitors of /").await;
    assert_eq!(
        rows(&first[0].0),
        [
            ("/".to_owned(), 4, 4),
            ("/pricing".to_owned(), 2, 1),
            ("/docs".to_owned(), 1, 1),
        ]
    );
    assert_eq!(
        rows(&first[1].0),
        [("Chrome".to_owned(), 4, 3), ("Firefox".to_owned(), 2, 2)],
        "pageviews only"
    );
    assert_eq!(
        rows(&first[2].0),
        [("free".to_owned(), 4, 4)],
        "the top plan"
    );

    // Read again: the whole UTC days are kept, so only the two cut days are read.
    let reads = figure_reads(&sql_log);
    read_all(&stack, &admin, &scope).await;
    let log = std::fs::read_to_string(&sql_log).expect("the SQL log");
    let since: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" AS ids FROM events"))
        .skip(reads)
        .collect();
    assert_eq!(since.len(), 3, "one read of each top list: {since:?}");
    assert!(
        since
            .iter()
            .all(|line| line.contains("day IN (65535) LIMIT")),
        "no whole day read: {since:?}"
    );

    // On October 3rd at noon, Ann says the anonymous visitor was her: October 1st, kept and
    // not read again, now shows one person fewer on "/".
    let link = identify("ann", "anon-1", "2026-10-03T12:00:00Z");
    stack.send_batch(&key, &[link]).await;
    let linked = settled((5, 3), "anon-1 is Ann, and her $identify on / counted").await;
    assert_eq!(
        rows(&linked[0].0)[0],
        ("/".to_owned(), 5, 3),
        "her $identify is an event on / too"
    );
    assert_eq!(
        day_reads_since(&sql_log, reads, "2026-10-01"),
        0,
        "October 1st was not read again"
    );
}
