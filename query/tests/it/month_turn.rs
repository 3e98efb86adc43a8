//! A session that crosses the turn of a month keeps its true start: the sessions table holds
//! its rows in both months, and a range that starts with the second month still reads the
//! first month's row, so the session counts for the day it started on, at its whole length.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn a_session_across_the_turn_of_a_month_counts_where_it_started_at_its_whole_length() {
    let stack = Stack::start_with(None);
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "Month turn", "timezone": "UTC" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();
    let batch: Vec<Value> = [
        ("/home", "2026-10-31T23:50:00Z"),
        ("/pricing", "2026-11-01T00:05:00Z"),
        ("/signup", "2026-11-01T00:10:00Z"),
    ]
    .into_iter()
    .map(|(path, at)| {
        json!({
            "event": "$pageview", "distinct_id": "night-owl", "timestamp": at,
            "properties": { "$current_url": format!("https://shop.example{path}") },
        })
    })
    .collect();
    stack.send_batch(&key, &batch).await;
    let (server, database) = stack.clickhouse();
    devstack::wait::until("the session kept", Duration::from_secs(60), || {
        server
            .query_in(
                database,
                &format!(
                    "SELECT uniqExact(session_id), uniqExact(event_id) FROM events \
                     WHERE project_id = '{project}'"
                ),
            )
            .is_ok_and(|answer| answer.trim() == "1\t3")
            && server
                .query_in(
                    database,
                    &format!(
                        "SELECT uniqExact(month) FROM sessions WHERE project_id = '{project}'"
                    ),
                )
                .is_ok_and(|months| months.trim() == "2")
    })
    .unwrap_or_else(|err| {
        let seen = server.query_in(
            database,
            "SELECT project_id, session_id, toString(timestamp) FROM events",
        );
        panic!("{err}: one session of three events, with rows in October and November: {seen:?}")
    });

    let sessions = |from: &'static str, to: &'static str| {
        let stack = &stack;
        let (admin, project) = (&admin, &project);
        async move {
            let (status, overview) = stack
                .get(
                    Some(admin),
                    &format!("/api/query/overview?project_id={project}&from={from}&to={to}"),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{overview}");
            let figure = |name: &str| overview["figures"][name]["value"].as_f64();
            (figure("sessions"), figure("avg_session_seconds"))
        }
    };
    assert_eq!(
        sessions("2026-11-01", "2026-11-01").await,
        (Some(0.0), Some(0.0)),
        "it started in October"
    );
    assert_eq!(
        sessions("2026-10-31", "2026-11-01").await,
        (Some(1.0), Some(1200.0)),
        "twenty minutes from its first event to its last"
    );
}
