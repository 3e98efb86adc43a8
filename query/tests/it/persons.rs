//! Persons: distinct ids linked into one person (rows of `person_ids`, as the sink projects them
//! from identity links) count once in every analysis, `person:<key>` filters and breaks down by
//! the person's resolved properties (rows of `person_properties`), and the persons API lists
//! and shows them with their ids, properties and events. The rows are written here with SQL:
//! the tables are the contract between the sink and query.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Stack, urlencode};

/// Who did what: `anon-1` browses, signs in as `user-1` and buys, then comes back the next day
/// on another device as `anon-2` (all three one person); `solo` and `plain` browse once.
const EVENTS: &[(&str, &str, &str)] = &[
    ("anon-1", "$pageview", "2026-11-02T10:00:00Z"),
    ("user-1", "purchase", "2026-11-02T10:10:00Z"),
    ("solo", "$pageview", "2026-11-02T12:00:00Z"),
    ("anon-2", "$pageview", "2026-11-03T09:00:00Z"),
    ("plain", "$pageview", "2026-11-03T12:00:00Z"),
];

/// The ids linked to `user-1` (the canonical id has a row of its own, pointing to itself).
const LINKED: &[&str] = &["anon-1", "anon-2", "user-1"];

/// `(distinct_id, key, value, time, set_once)`: `plan` set to free and then to pro (pro wins),
/// `source` set once to ads and later once to seo on another id (ads, the first, wins).
const PROPERTIES: &[(&str, &str, &str, &str, u8)] = &[
    ("anon-1", "plan", "free", "2026-11-02 10:00:00", 0),
    ("user-1", "plan", "pro", "2026-11-02 10:10:00", 0),
    ("anon-2", "source", "ads", "2026-11-03 09:00:00", 1),
    ("user-1", "source", "seo", "2026-11-03 11:00:00", 1),
    ("solo", "plan", "team", "2026-11-02 12:00:00", 0),
];

/// Writes the links of `ids` to the person `key` and `properties` into the test's ClickHouse,
/// as the sink would.
pub(crate) fn link(
    stack: &Stack,
    project: &str,
    key: &str,
    ids: &[&str],
    properties: &[(&str, &str, &str, &str, u8)],
) {
    let (server, database) = stack.clickhouse();
    let project_id = Uuid::parse_str(project).expect("project id");
    let person = contract::persons::person_id(project_id, key);
    for id in ids {
        server
            .query_in(
                database,
                &format!(
                    "INSERT INTO person_ids (project_id, distinct_id, person_id, person_key, \
                     person_hash, version, is_deleted) SELECT toUUID('{project}'), '{id}', \
                     toUUID('{person}'), '{key}', cityHash64('{key}'), 1, 0"
                ),
            )
            .expect("a link");
    }
    for (id, name, value, at, once) in properties {
        server
            .query_in(
                database,
                &format!(
                    "INSERT INTO person_properties SELECT toUUID('{project}'), '{id}', '{name}', \
                     '{value}', toDateTime('{at}', 'UTC'), {once}, toUUID('{}')",
                    Uuid::new_v4()
                ),
            )
            .expect("a property");
    }
}

/// A project with the events stored, the persons linked and their properties set: its id.
async fn project_with_persons(stack: &Stack, admin: &str) -> String {
    let created = stack
        .create_project(admin, json!({ "name": "Persons", "timezone": "UTC" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key");
    let batch: Vec<Value> = EVENTS
        .iter()
        .map(|(id, event, at)| {
            json!({ "uuid": Uuid::new_v4(), "event": event, "distinct_id": id, "timestamp": at,
                    "properties": { "$current_url": "https://shop.example/home" } })
        })
        .collect();
    stack.send_batch(key, &batch).await;
    let (server, database) = stack.clickhouse();
    devstack::wait::until("the events stored", Duration::from_secs(60), || {
        server
            .query_in(
                database,
                &format!("SELECT count() FROM events WHERE project_id = '{project}'"),
            )
            .is_ok_and(|count| count.trim() == EVENTS.len().to_string())
    })
    .expect("stored");
    link(stack, &project, "user-1", LINKED, PROPERTIES);
    project
}

/// `GET` through query, answered 200.
pub(crate) async fn get(stack: &Stack, admin: &str, path: &str) -> Value {
    let (status, body) = stack.get(Some(admin), path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// `POST` through query, answered 200.
pub(crate) async fn post(stack: &Stack, admin: &str, path: &str, request: Value) -> Value {
    let response = stack
        .http
        .post(stack.query().url(path))
        .bearer_auth(admin)
        .json(&request)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("json")
}

/// `&filter=` of one condition.
pub(crate) fn filter(key: &str, op: &str, value: Option<&str>) -> String {
    let mut condition = json!({ "key": key, "op": op });
    if let Some(value) = value {
        condition["value"] = json!(value);
    }
    format!("&filter={}", urlencode(&json!([condition]).to_string()))
}

/// The step counts of a funnel answer.
pub(crate) fn counts(funnel: &Value) -> Vec<u64> {
    funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["count"].as_u64().unwrap_or(u64::MAX))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn linked_ids_count_as_one_person_and_person_properties_filter_and_break_down() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let project = project_with_persons(&stack, &admin).await;
    let scope = format!("project_id={project}&from=2026-11-02&to=2026-11-04");

    counts_persons(&stack, &admin, &scope).await;
    crate::persons_filters::filters_by_person(&stack, &admin, &scope).await;
    crate::persons_filters::breaks_down_by_person(&stack, &admin, &scope).await;
    crate::persons_api::lists_and_shows_persons(&stack, &admin, &project, &scope).await;
    crate::persons_api::counts_active_persons_live(&stack, &admin).await;

    crate::current_clickhouse::same_answers_on_current_clickhouse(&stack, &sql_log);
}

/// Uniques, funnels, retention and top values count `anon-1`, `user-1` and `anon-2` once.
async fn counts_persons(stack: &Stack, admin: &str, scope: &str) {
    let overview = get(stack, admin, &format!("/api/query/overview?{scope}")).await;
    assert_eq!(
        overview["figures"]["events"]["value"],
        json!(5.0),
        "{overview}"
    );
    assert_eq!(
        overview["figures"]["users"]["value"],
        json!(3.0),
        "{overview}"
    );

    let weekly = get(
        stack,
        admin,
        &format!("/api/query/trends?{scope}&measure=uniques&interval=week"),
    )
    .await;
    assert_eq!(weekly["series"][0]["total"], json!(3), "{weekly}");
    let daily = get(
        stack,
        admin,
        &format!("/api/query/trends?{scope}&measure=uniques&interval=day"),
    )
    .await;
    let per_day: Vec<u64> = daily["series"][0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| point["value"].as_u64().unwrap_or(u64::MAX))
        .collect();
    // The 2nd: user-1's person (anon-1 and user-1) and solo; the 3rd: the person again (as
    // anon-2) and plain.
    assert_eq!(per_day, [2, 2, 0], "{daily}");

    let top = get(
        stack,
        admin,
        &format!("/api/query/top?{scope}&dimension=event"),
    )
    .await;
    assert_eq!(
        top["values"],
        json!([
            { "value": "$pageview", "count": 4, "users": 3 },
            { "value": "purchase", "count": 1, "users": 1 },
        ])
    );

    let steps = json!({
        "steps": [{ "event": "$pageview" }, { "event": "purchase" }],
        "window_seconds": 3600
    });
    let funnel = post(
        stack,
        admin,
        &format!("/api/query/funnel?{scope}"),
        steps.clone(),
    )
    .await;
    // anon-1's pageview and user-1's purchase are one person's journey.
    assert_eq!(counts(&funnel), [3, 1], "{funnel}");

    let retention = post(
        stack,
        admin,
        &format!("/api/query/retention?{scope}"),
        json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "day", "periods": 3 }),
    )
    .await;
    // The person came back on the 3rd as anon-2: one cohort of two on the 2nd, not a new
    // person on the 3rd.
    assert_eq!(
        retention["cohorts"],
        json!([
            { "start": "2026-11-02", "size": 2, "returned": [2, 1, 0], "percent": [100.0, 50.0, 0.0] },
            { "start": "2026-11-03", "size": 1, "returned": [1, 0, 0], "percent": [100.0, 0.0, 0.0] },
        ]),
        "{retention}"
    );
}
