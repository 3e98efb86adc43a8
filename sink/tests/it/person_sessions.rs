//! Sessions follow persons, not distinct ids: once an identity link joined an anonymous id to
//! a user, the anonymous id's event without a `$session_id` continues the session the user's
//! event started minutes before (the sink finds it under the person's canonical id), and an
//! event more than 30 minutes later starts another.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::common::{KEY, Pipeline};

/// A PostHog event of `user`, `minutes` before now, with no `$session_id`.
fn event(name: &str, user: &str, minutes: i64, properties: Value) -> (Uuid, Value) {
    let id = Uuid::now_v7();
    let at = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes);
    let body = json!({
        "uuid": id, "event": name, "distinct_id": user,
        "timestamp": at.format(&Rfc3339).expect("formats"), "properties": properties,
    });
    (id, body)
}

async fn send(pipeline: &Pipeline, events: &[&Value]) {
    let body = json!({ "api_key": KEY, "batch": events });
    let (status, answer) = pipeline
        .send("/batch/", body.to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Waits until `rows` events are stored, then gives the session of `id`.
async fn session_of(pipeline: &Pipeline, rows: u64, id: Uuid) -> String {
    pipeline.wait_for_rows(rows).await;
    pipeline.query(&format!(
        "SELECT session_id FROM {{db}}.events WHERE event_id = '{id}'"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_id_joined_to_a_user_continues_the_users_session() {
    let pipeline = Pipeline::start().await;
    let (_, identify) = event(
        "$identify",
        "user-1",
        200,
        json!({ "$anon_distinct_id": "anon-1" }),
    );
    send(&pipeline, &[&identify]).await;
    devstack::wait::until_async("the link applied", Duration::from_secs(60), || async {
        pipeline
            .try_query("SELECT person_key FROM {db}.person_ids FINAL WHERE distinct_id = 'anon-1'")
            .as_deref()
            == Some("user-1")
    })
    .await
    .expect("anon-1 is user-1");

    let (purchase, body) = event("purchase", "user-1", 60, json!({}));
    send(&pipeline, &[&body]).await;
    let started = session_of(&pipeline, 2, purchase).await;
    let (pageview, body) = event("$pageview", "anon-1", 50, json!({}));
    send(&pipeline, &[&body]).await;
    assert_eq!(
        session_of(&pipeline, 3, pageview).await,
        started,
        "ten minutes later, under the other id of the same person"
    );
    let (later, body) = event("$pageview", "anon-1", 5, json!({}));
    send(&pipeline, &[&body]).await;
    let next = session_of(&pipeline, 4, later).await;
    assert!(
        !next.is_empty() && next != started,
        "45 minutes later: {next}"
    );
}
