//! `sink replay`: ClickHouse rebuilt from the history stream, per project or all, and replaying
//! twice gives the same counts.

use std::time::Duration;

use devstack::stack::TestStack;
use plumbing::config::ClickHouseConfig;
use uuid::Uuid;

async fn publish_event(js: &async_nats::jetstream::Context, project: Uuid, name: &str) {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let event = serde_json::json!({
        "event_id": Uuid::now_v7(), "project_id": project, "kind": "track", "event": name,
        "distinct_id": "u1", "timestamp": now, "received_at": now,
    });
    js.publish(
        contract::streams::event_subject(&project.to_string(), "track"),
        event.to_string().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_rebuilds_one_project_or_all_and_twice_gives_the_same_counts() {
    let stack = TestStack::builder()
        .nats()
        .clickhouse()
        .start()
        .expect("nats and clickhouse start");
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(stack.nats().url())
            .await
            .expect("nats"),
    );
    plumbing::streams::provision(
        &js,
        &plumbing::streams::Definitions::bundled().expect("definitions"),
    )
    .await
    .expect("streams");
    let (server, db) = stack.clickhouse();
    let config = ClickHouseConfig::local(server.http_port(), db);
    sink::schema::apply(&plumbing::clickhouse::server_client(&config), db)
        .await
        .expect("schema");
    let clickhouse = plumbing::clickhouse::client(&config);

    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for name in ["one", "two", "three"] {
        publish_event(&js, a, name).await;
    }
    publish_event(&js, b, "other").await;
    js.publish(
        contract::streams::event_subject(&a.to_string(), "track"),
        "not an event".into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");
    // The history copies what EVENTS takes, a moment later.
    devstack::wait::until_async(
        "the history holds all five",
        Duration::from_secs(30),
        || async {
            let mut history = js.get_stream("EVENTS_HISTORY").await.expect("history");
            history.info().await.expect("info").state.messages == 5
        },
    )
    .await
    .expect("history");
    let count = |project: Uuid| {
        stack
            .clickhouse_sql(&format!(
                "SELECT count() FROM events WHERE project_id = '{project}'"
            ))
            .expect("count")
            .trim()
            .to_owned()
    };

    let mut progress = Vec::new();
    let first = sink::replay::replay(&js, 1, &clickhouse, Some(a), None, &mut progress)
        .await
        .expect("replay a");
    assert_eq!(
        (
            first.read,
            first.inserted,
            first.already_stored,
            first.unreadable
        ),
        (4, 3, 0, 1)
    );
    assert!(String::from_utf8_lossy(&progress).contains("inserted 3"));
    assert_eq!((count(a).as_str(), count(b).as_str()), ("3", "0"));

    let again = sink::replay::replay(&js, 1, &clickhouse, Some(a), None, &mut Vec::new())
        .await
        .expect("replay a again");
    assert_eq!((again.inserted, again.already_stored), (0, 3));
    assert_eq!(count(a), "3", "replaying twice gives the same counts");

    let all = sink::replay::replay(&js, 1, &clickhouse, None, None, &mut Vec::new())
        .await
        .expect("replay all");
    assert_eq!((all.inserted, all.already_stored), (1, 3));
    assert_eq!((count(a).as_str(), count(b).as_str()), ("3", "1"));

    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let none = sink::replay::replay(&js, 1, &clickhouse, None, Some(later), &mut Vec::new())
        .await
        .expect("replay from the future");
    assert_eq!(none.read, 0, "nothing was published after that");
}
