//! The persons API over the dataset of `persons`: the list (paged, searched, filtered), one
//! person with their events (paged), and the live view's active users, counted as persons.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Stack, urlencode};

/// The canonical ids of a persons page, in order.
fn keys(page: &Value) -> Vec<String> {
    page["persons"]
        .as_array()
        .expect("persons")
        .iter()
        .map(|person| {
            let ids = person["distinct_ids"].as_array().expect("ids");
            // Every person of the dataset is named by its last id in sorted order.
            ids.last()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn get(stack: &Stack, admin: &str, path: &str) -> Value {
    let (status, body) = stack.get(Some(admin), path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// The list: every person of the range once, by canonical id, a page at a time; searched by
/// any of their ids or property values; filtered by their properties. One person: by the id
/// the list gives (a linked person's, an unlinked id's, a merged id's), with their events.
pub(crate) async fn lists_and_shows_persons(
    stack: &Stack,
    admin: &str,
    project: &str,
    scope: &str,
) {
    let project_id = Uuid::parse_str(project).expect("project id");
    let all = get(stack, admin, &format!("/api/query/persons?{scope}")).await;
    assert_eq!(all["next_cursor"], Value::Null, "{all}");
    assert_eq!(
        all["persons"],
        json!([
            {
                "id": contract::persons::person_id(project_id, "plain"),
                "distinct_ids": ["plain"],
                "properties": {},
                "first_seen": "2026-11-03T12:00:00Z",
                "last_seen": "2026-11-03T12:00:00Z",
            },
            {
                "id": contract::persons::person_id(project_id, "solo"),
                "distinct_ids": ["solo"],
                "properties": { "plan": "team" },
                "first_seen": "2026-11-02T12:00:00Z",
                "last_seen": "2026-11-02T12:00:00Z",
            },
            {
                "id": contract::persons::person_id(project_id, "user-1"),
                "distinct_ids": ["anon-1", "anon-2", "user-1"],
                "properties": { "plan": "pro", "source": "ads" },
                "first_seen": "2026-11-02T10:00:00Z",
                "last_seen": "2026-11-03T09:00:00Z",
            },
        ]),
        "{all}"
    );

    let first = get(stack, admin, &format!("/api/query/persons?{scope}&limit=2")).await;
    assert_eq!(keys(&first), ["plain", "solo"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = get(
        stack,
        admin,
        &format!(
            "/api/query/persons?{scope}&limit=2&cursor={}",
            urlencode(cursor)
        ),
    )
    .await;
    assert_eq!(keys(&second), ["user-1"]);
    assert_eq!(second["next_cursor"], Value::Null);

    for (search, expected) in [
        ("ANON-2", vec!["user-1"]),
        ("team", vec!["solo"]),
        ("ads", vec!["user-1"]),
        ("lai", vec!["plain"]),
        ("nobody", vec![]),
    ] {
        let found = get(
            stack,
            admin,
            &format!("/api/query/persons?{scope}&search={search}"),
        )
        .await;
        assert_eq!(keys(&found), expected, "{search}: {found}");
    }
    let pro = urlencode(&json!([{ "key": "person:plan", "op": "eq", "value": "pro" }]).to_string());
    let filtered = get(
        stack,
        admin,
        &format!("/api/query/persons?{scope}&filter={pro}"),
    )
    .await;
    assert_eq!(keys(&filtered), ["user-1"]);
    let later = get(
        stack,
        admin,
        &format!("/api/query/persons?project_id={project}&from=2026-11-03&to=2026-11-03"),
    )
    .await;
    assert_eq!(keys(&later), ["plain", "user-1"], "seen on the 3rd");
    let (status, _) = stack
        .get(
            Some(admin),
            &format!("/api/query/persons?{scope}&cursor=nothex"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    shows_one_person(stack, admin, project_id, scope).await;
}

/// One person by id: a linked person with their events, newest first and paged; an unlinked
/// id's person; a merged id answers the person it joined; an unknown id is a 404.
async fn shows_one_person(stack: &Stack, admin: &str, project: Uuid, scope: &str) {
    let person = |key: &str| contract::persons::person_id(project, key);
    let linked = get(
        stack,
        admin,
        &format!("/api/query/persons/{}?{scope}", person("user-1")),
    )
    .await;
    assert_eq!(linked["id"], json!(person("user-1")), "{linked}");
    assert_eq!(
        linked["distinct_ids"],
        json!(["anon-1", "anon-2", "user-1"])
    );
    assert_eq!(
        linked["properties"],
        json!({ "plan": "pro", "source": "ads" })
    );
    let timeline: Vec<(&str, &str)> = linked["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["distinct_id"].as_str().unwrap_or(""),
                e["event"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        timeline,
        [
            ("anon-2", "$pageview"),
            ("user-1", "purchase"),
            ("anon-1", "$pageview")
        ]
    );
    assert_eq!(linked["next_cursor"], Value::Null);

    let first = get(
        stack,
        admin,
        &format!("/api/query/persons/{}?{scope}&limit=2", person("user-1")),
    )
    .await;
    assert_eq!(first["events"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let rest = get(
        stack,
        admin,
        &format!(
            "/api/query/persons/{}?{scope}&limit=2&cursor={cursor}",
            person("user-1")
        ),
    )
    .await;
    assert_eq!(rest["events"][0]["distinct_id"], json!("anon-1"), "{rest}");
    assert_eq!(rest["next_cursor"], Value::Null);

    let solo = get(
        stack,
        admin,
        &format!("/api/query/persons/{}?{scope}", person("solo")),
    )
    .await;
    assert_eq!(solo["distinct_ids"], json!(["solo"]), "{solo}");
    assert_eq!(solo["properties"], json!({ "plan": "team" }));
    assert_eq!(solo["events"].as_array().map(Vec::len), Some(1));
    let merged = get(
        stack,
        admin,
        &format!("/api/query/persons/{}?{scope}", person("anon-2")),
    )
    .await;
    assert_eq!(merged["id"], json!(person("user-1")), "{merged}");

    for (id, expected) in [
        (person("nobody").to_string(), StatusCode::NOT_FOUND),
        ("not-a-uuid".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = stack
            .get(Some(admin), &format!("/api/query/persons/{id}?{scope}"))
            .await;
        assert_eq!(status, expected, "{id}: {body}");
    }
}

/// The live view's active users: two ids of one person, both active now, are one.
pub(crate) async fn counts_active_persons_live(stack: &Stack, admin: &str) {
    let created = stack
        .create_project(admin, json!({ "name": "Live persons" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key");
    let batch: Vec<Value> = ["anon-9", "user-9"]
        .iter()
        .map(|id| json!({ "uuid": Uuid::new_v4(), "event": "click", "distinct_id": id }))
        .collect();
    stack.send_batch(key, &batch).await;
    let (server, database) = stack.clickhouse();
    devstack::wait::until("the live events stored", Duration::from_secs(60), || {
        server
            .query_in(
                database,
                &format!("SELECT count() FROM events WHERE project_id = '{project}'"),
            )
            .is_ok_and(|count| count.trim() == "2")
    })
    .expect("stored");
    crate::persons::link(stack, &project, "user-9", &["anon-9", "user-9"], &[]);
    let mut feed = stack
        .http
        .get(
            stack
                .query()
                .url(&format!("/api/query/live?project_id={project}")),
        )
        .bearer_auth(admin)
        .send()
        .await
        .expect("live");
    assert_eq!(feed.status(), StatusCode::OK);
    let mut received = String::new();
    while !received.contains("event: active_users") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), feed.chunk())
            .await
            .expect("a count")
            .expect("reads")
            .expect("open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.contains("{\"count\":1}"), "{received}");
}
