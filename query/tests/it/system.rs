//! `GET /api/query/system`: the pipeline figures, for admins only, and their SQL on current
//! ClickHouse.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn the_system_figures_count_the_stream_and_the_table_and_their_sql_runs_on_current_clickhouse()
 {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "System" }))
        .await;
    let key = created["write_key"].as_str().expect("write key").to_owned();
    const SENT: u64 = 12;
    let batch: Vec<Value> = (0..SENT)
        .map(|i| json!({ "uuid": Uuid::now_v7(), "event": "system", "distinct_id": format!("u{i}") }))
        .collect();
    for _ in 0..2 {
        // Sent twice: the retry is dropped by the stream's deduplication, so never counted.
        stack.send_batch(&key, &batch).await;
    }

    // Only admins: a user is refused, and so is a caller without a token.
    stack.register("plain@example.com").await;
    let user = stack.token("plain@example.com");
    assert_eq!(
        stack.get(None, "/api/query/system").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stack.get(Some(&user), "/api/query/system").await.0,
        StatusCode::FORBIDDEN
    );

    devstack::wait::until_async(
        "every event stored and acked",
        Duration::from_secs(30),
        || async {
            let (_, system) = stack.get(Some(&admin), "/api/query/system").await;
            let sink = system["consumers"]
                .as_array()
                .and_then(|all| {
                    all.iter()
                        .find(|c| c["name"] == contract::streams::SINK_CONSUMER)
                })
                .cloned()
                .unwrap_or_default();
            // The history copies from the backlog on its own, a moment later.
            system["clickhouse"]["rows"] == SENT
                && sink["pending"] == 0
                && sink["ack_pending"] == 0
                && system["streams"][1]["messages"] == SENT
        },
    )
    .await
    .expect("stored");
    let (status, system) = stack.get(Some(&admin), "/api/query/system").await;
    assert_eq!(status, StatusCode::OK, "{system}");
    let names: Vec<&str> = system["streams"]
        .as_array()
        .map(|all| all.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        ["EVENTS", "EVENTS_HISTORY", "EVENTS_DLQ", "AUTH"],
        "{system}"
    );
    // Stored and acked: the backlog let go of them, the history keeps them.
    assert_eq!(system["streams"][0]["last_sequence"], SENT, "{system}");
    assert_eq!(system["streams"][0]["refuses_when_full"], true, "{system}");
    assert_eq!(system["streams"][1]["messages"], SENT, "{system}");
    assert_eq!(system["streams"][1]["first_sequence"], 1, "{system}");
    assert_eq!(system["streams"][1]["refuses_when_full"], false, "{system}");
    assert_eq!(system["dlq_messages"], 0, "{system}");
    assert_eq!(system["consumers"][1]["name"], "auth-projector", "{system}");
    assert_eq!(system["consumers"][1]["pending"], 0, "{system}");
    assert!(
        system["clickhouse"]["bytes_on_disk"].as_u64() > Some(0),
        "{system}"
    );
    assert_eq!(system["problems"], json!([]), "{system}");

    // The same statement on current ClickHouse: it runs and counts what the table holds.
    let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
    for statement in sink::schema::statements("default").expect("schema") {
        chdb.query(&statement)
            .expect("the events DDL runs on current ClickHouse");
    }
    let rows = stack
        .services
        .clickhouse_sql("SELECT * FROM events FORMAT Values")
        .expect("rows");
    chdb.query(&format!("INSERT INTO default.events VALUES {rows}"))
        .expect("rows copied");
    let figures = chdb
        .query(&format!("{} FORMAT TSV", query::EVENTS_PARTS))
        .expect("the parts query runs on current ClickHouse");
    assert!(figures.starts_with(&format!("{SENT}\t")), "{figures}");
}
