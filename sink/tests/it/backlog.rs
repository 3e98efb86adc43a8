//! The event log's two budgets on real servers: steady traffic many times the backlog budget is
//! all accepted and stored while the sink keeps up (stored events leave `EVENTS`); with the sink
//! stopped the backlog fills and ingest answers 503, and everything it accepted is stored once
//! when the sink returns; the history keeps the newest events within its own budget, dropping
//! the oldest without ever refusing, and replay rebuilds ClickHouse from what it kept.

use std::time::Duration;

use crate::common::{KEY, Pipeline};
use async_nats::jetstream;
use devstack::stack::Service;
use devstack::test::ClickHouseDb;
use plumbing::config::ClickHouseConfig;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// Unstored events `EVENTS` may hold in this test.
const BACKLOG: i64 = 100;
/// Events `EVENTS_HISTORY` keeps in this test.
const HISTORY: i64 = 300;
/// Events sent while the sink keeps up: five times the backlog budget.
const STEADY: usize = 5 * BACKLOG as usize;
/// Events in one request of the steady traffic.
const PER_REQUEST: usize = 10;
/// Generous: the machine may be loaded.
const DEADLINE: Duration = Duration::from_secs(60);

/// The budgets made small the way an operator sets them: the streams' configuration.
async fn set_budgets(js: &jetstream::Context) {
    for (name, max_messages) in [("EVENTS", BACKLOG), ("EVENTS_HISTORY", HISTORY)] {
        let mut config = js
            .get_stream(name)
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .config
            .clone();
        config.max_messages = max_messages;
        js.update_stream(config).await.expect("budget set");
    }
}

async fn state(js: &jetstream::Context, name: &str) -> jetstream::stream::State {
    js.get_stream(name)
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .clone()
}

/// `(status, Retry-After)` of one `/batch/` request with `events`.
async fn send(pipeline: &Pipeline, events: &[(Uuid, usize)]) -> (StatusCode, Option<String>) {
    let batch: Vec<_> = events
        .iter()
        .map(|(id, n)| json!({ "uuid": id, "event": "steady", "distinct_id": format!("u{n}") }))
        .collect();
    let response = pipeline
        .http
        .post(pipeline.ingest().url("/batch/"))
        .json(&json!({ "api_key": KEY, "batch": batch }))
        .send()
        .await
        .expect("ingest answers");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (response.status(), retry_after)
}

async fn wait_for(pipeline: &Pipeline, what: &str, sql: &str, expected: String) {
    devstack::wait::until_async(what, DEADLINE, || async {
        pipeline.try_query(sql).as_deref() == Some(expected.as_str())
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: {:?}", pipeline.try_query(sql)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backlog_budget_refuses_only_unstored_events_and_the_history_never_refuses() {
    let mut pipeline = Pipeline::start().await;
    let js = jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    );
    set_budgets(&js).await;
    let ids: Vec<Uuid> = (0..STEADY).map(|_| Uuid::now_v7()).collect();

    // Steady state: the sink keeps up, so five times the budget passes through it. A request
    // goes out once the backlog is under half its budget, as traffic the sink keeps up with.
    let numbered: Vec<(Uuid, usize)> = ids.iter().copied().zip(0..).collect();
    for chunk in numbered.chunks(PER_REQUEST) {
        devstack::wait::until_async("the backlog under half its budget", DEADLINE, || async {
            state(&js, "EVENTS").await.messages < BACKLOG as u64 / 2
        })
        .await
        .expect("the sink keeps up");
        assert_eq!(send(&pipeline, chunk).await.0, StatusCode::OK);
    }
    wait_for(
        &pipeline,
        "the steady traffic stored",
        "SELECT count() FROM {db}.events",
        STEADY.to_string(),
    )
    .await;
    assert_eq!(state(&js, "EVENTS").await.last_sequence, STEADY as u64);
    // Stored and acked events leave the backlog (acks trail the insert by a moment).
    devstack::wait::until_async("the backlog empty", DEADLINE, || async {
        state(&js, "EVENTS").await.messages == 0
    })
    .await
    .expect("the stored events left the backlog");
    // The history holds the newest events within its budget; the oldest left.
    let last_seen = std::sync::Mutex::new(None);
    devstack::wait::until_async("the history at its budget", DEADLINE, || async {
        let history = state(&js, "EVENTS_HISTORY").await;
        let done = history.messages == HISTORY as u64 && history.last_sequence == STEADY as u64;
        *last_seen.lock().expect("not poisoned") = Some(history);
        done
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: the history holds {last_seen:?}"));

    // The sink stops: the backlog fills up to its budget, then ingest refuses with a 503.
    pipeline.stack.stop(Service::Sink).expect("stops");
    let mut accepted = Vec::new();
    let mut refused = None;
    for n in 0..(3 * BACKLOG as usize) {
        let id = Uuid::now_v7();
        match send(&pipeline, &[(id, n)]).await {
            (StatusCode::OK, _) => accepted.push(id),
            other => {
                refused = Some(other);
                break;
            }
        }
    }
    let (status, retry_after) = refused.expect("the full backlog refuses events");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after.is_some(), "503 carries Retry-After");
    assert_eq!(
        accepted.len() as i64,
        BACKLOG,
        "the whole budget was usable"
    );
    assert_eq!(state(&js, "EVENTS").await.messages, accepted.len() as u64);

    // The sink returns: every accepted event is stored once, and the backlog empties.
    pipeline
        .stack
        .restart(Service::Sink)
        .expect("the sink starts again");
    let total = STEADY + accepted.len();
    wait_for(
        &pipeline,
        "the accepted events stored",
        "SELECT count(), uniqExact(event_id) FROM {db}.events",
        format!("{total}\t{total}"),
    )
    .await;
    devstack::wait::until_async("the backlog empty", DEADLINE, || async {
        state(&js, "EVENTS").await.messages == 0
    })
    .await
    .expect("the stored events left the backlog");

    // Replay rebuilds a new table from the history kept: the newest events, within its budget.
    let rebuilt = ClickHouseDb::unique();
    let config = ClickHouseConfig::local(rebuilt.server().http_port(), &rebuilt.name);
    sink::schema::apply(&plumbing::clickhouse::server_client(&config), &rebuilt.name)
        .await
        .expect("schema");
    devstack::wait::until_async("the history caught up", DEADLINE, || async {
        state(&js, "EVENTS_HISTORY").await.last_sequence == total as u64
    })
    .await
    .expect("history");
    let kept = state(&js, "EVENTS_HISTORY").await.messages;
    let replayed = sink::replay::replay(
        &js,
        1,
        &plumbing::clickhouse::client(&config),
        None,
        None,
        &mut Vec::new(),
    )
    .await
    .expect("replay");
    assert_eq!((replayed.read, replayed.inserted), (kept, kept));
    let newest = accepted.last().expect("an accepted event");
    let found = rebuilt
        .server()
        .query_in(
            &rebuilt.name,
            &format!("SELECT count() FROM events WHERE event_id = '{newest}'"),
        )
        .expect("query");
    assert_eq!(found.trim(), "1", "the newest event is in the history");
    let oldest = ids[0];
    let found = rebuilt
        .server()
        .query_in(
            &rebuilt.name,
            &format!("SELECT count() FROM events WHERE event_id = '{oldest}'"),
        )
        .expect("query");
    assert_eq!(found.trim(), "0", "the oldest event left the history");
}
