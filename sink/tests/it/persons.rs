//! Persons end to end on real servers: identifying events sent to ingest become links on
//! `PERSONS`, which the sink projects into `person_ids` (every id of a person pointing to the
//! identified one, the version being the link's stream sequence); applying every link again,
//! or rebuilding from the stream, gives the same rows; `$set`, `$set_once` and Segment's traits
//! become `person_properties` rows that give the latest and the first value.

use std::time::Duration;

use async_nats::jetstream;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::common::{KEY, Pipeline};

/// RFC 3339 time `hours` before now.
fn hours_ago(hours: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::hours(hours))
        .format(&Rfc3339)
        .expect("formats")
}

/// A PostHog event of `user` at `hours` ago.
fn event(name: &str, user: &str, hours: i64, properties: Value) -> Value {
    json!({
        "uuid": Uuid::now_v7(), "event": name, "distinct_id": user,
        "timestamp": hours_ago(hours), "properties": properties,
    })
}

async fn send_posthog(pipeline: &Pipeline, batch: &[Value]) {
    let body = json!({ "api_key": KEY, "batch": batch });
    let (status, answer) = pipeline
        .send("/batch/", body.to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// The mapping of the test's project: `distinct_id person_key version` lines.
fn mapping(pipeline: &Pipeline) -> String {
    pipeline.query(&format!(
        "SELECT distinct_id, person_key, version FROM {{db}}.person_ids FINAL \
         WHERE project_id = '{}' ORDER BY distinct_id FORMAT TSV",
        pipeline.project
    ))
}

/// The rows of `person_ids` as the table defines them (the latest version of each id), every
/// column.
fn rows(pipeline: &Pipeline) -> String {
    pipeline.query(
        "SELECT project_id, distinct_id, person_id, person_key, person_hash, version, \
         is_deleted FROM {db}.person_ids FINAL ORDER BY distinct_id FORMAT TSV",
    )
}

async fn wait_for(
    pipeline: &Pipeline,
    what: &str,
    sql: impl Fn(&Pipeline) -> String,
    expected: &str,
) {
    devstack::wait::until_async(what, Duration::from_secs(60), || async {
        sql(pipeline) == expected
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: {}\nwanted\n{expected}", sql(pipeline)));
}

/// Waits until the sinks applied and acked the first `links` links, and nothing else waits.
pub(crate) async fn applied(js: &jetstream::Context, links: u64) {
    devstack::wait::until_async(
        &format!("{links} links applied"),
        Duration::from_secs(60),
        || async {
            let Ok(mut consumer) = js
                .get_consumer_from_stream::<jetstream::consumer::pull::Config, _, _>(
                    "sink-persons",
                    "PERSONS",
                )
                .await
            else {
                return false;
            };
            consumer.info().await.is_ok_and(|info| {
                info.ack_floor.stream_sequence == links
                    && info.num_pending == 0
                    && info.num_ack_pending == 0
            })
        },
    )
    .await
    .expect("links applied");
}

fn lines(rows: &[(&str, &str, u64)]) -> String {
    rows.iter()
        .map(|(id, key, version)| format!("{id}\t{key}\t{version}"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn operator(pipeline: &Pipeline) -> jetstream::Context {
    jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn identify_alias_and_a_merge_of_two_persons_map_every_id_to_the_identified_one() {
    let pipeline = Pipeline::start().await;
    let js = operator(&pipeline).await;
    let identify = |user: &str, anon: &str, hours| {
        event(
            "$identify",
            user,
            hours,
            json!({ "$anon_distinct_id": anon }),
        )
    };
    // anon-1 browses, signs up as user-1; later anon-2 browses and is aliased to user-1.
    send_posthog(
        &pipeline,
        &[
            event("$pageview", "anon-1", 9, json!({})),
            identify("user-1", "anon-1", 8),
        ],
    )
    .await;
    let alias = json!({ "alias": "anon-2" });
    send_posthog(
        &pipeline,
        &[
            event("$pageview", "anon-2", 7, json!({})),
            event("$create_alias", "user-1", 6, alias),
        ],
    )
    .await;
    let chain = [
        ("anon-1", "user-1", 1),
        ("anon-2", "user-1", 2),
        ("user-1", "user-1", 1),
    ];
    wait_for(&pipeline, "the chain", mapping, &lines(&chain)).await;

    // user-2 (who was anon-3) turns out to be user-1: the person of user-2 joins user-1's.
    send_posthog(&pipeline, &[identify("user-2", "anon-3", 5)]).await;
    send_posthog(&pipeline, &[identify("user-1", "user-2", 4)]).await;
    // A link between two ids of one person changes nothing.
    send_posthog(&pipeline, &[identify("user-1", "anon-1", 3)]).await;
    applied(&js, 5).await;
    let merged = [
        ("anon-1", "user-1", 1),
        ("anon-2", "user-1", 2),
        ("anon-3", "user-1", 4),
        ("user-1", "user-1", 1),
        ("user-2", "user-1", 4),
    ];
    assert_eq!(mapping(&pipeline), lines(&merged));
    pipeline.wait_for_rows(7).await;
    assert_eq!(
        pipeline.query(
            "SELECT DISTINCT toString(person_id), person_hash = (SELECT any(user_hash) \
             FROM {db}.events WHERE distinct_id = 'user-1') FROM {db}.person_ids FINAL"
        ),
        format!(
            "{}\t1",
            contract::persons::person_id(pipeline.project, "user-1")
        ),
        "one person, whose hash is the events' user hash of user-1"
    );

    // Every link delivered again (the consumer made anew) writes the same rows.
    let before = rows(&pipeline);
    let stream = js.get_stream("PERSONS").await.expect("PERSONS");
    stream
        .delete_consumer("sink-persons")
        .await
        .expect("deleted");
    let definitions = plumbing::streams::Definitions::bundled().expect("definitions");
    let consumer = definitions
        .consumers
        .iter()
        .find(|consumer| consumer.stream == "PERSONS")
        .expect("the consumer's definition");
    js.create_consumer_on_stream(consumer.config.clone(), "PERSONS")
        .await
        .expect("created again");
    applied(&js, 5).await;
    assert_eq!(
        rows(&pipeline),
        before,
        "redelivered links write the same rows"
    );

    // A rebuild empties the table (a stray row goes) and gives the same rows again.
    pipeline.query(&format!(
        "INSERT INTO {{db}}.person_ids (project_id, distinct_id, person_id, person_key, version, \
         is_deleted) VALUES ('{}', 'stray', '{}', 'nobody', 99, 0)",
        pipeline.project,
        Uuid::nil()
    ));
    let (server, db) = pipeline.stack.clickhouse();
    let config = plumbing::config::ClickHouseConfig::local(server.http_port(), db);
    sink::persons::rebuild_persons(
        &js,
        &plumbing::clickhouse::server_client(&config),
        &sink::schema::Layout::of(&config).expect("layout"),
        Duration::from_millis(200),
    )
    .await
    .expect("rebuilt");
    applied(&js, 5).await;
    wait_for(&pipeline, "the rebuilt rows", rows, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn segment_identify_and_alias_link_their_ids_and_traits_are_person_properties() {
    let pipeline = Pipeline::start().await;
    let batch = json!({ "writeKey": KEY, "batch": [
        { "type": "identify", "userId": "s-user", "anonymousId": "s-anon-1",
          "traits": { "plan": "team", "seats": 5 }, "messageId": "ajs-identify",
          "timestamp": hours_ago(2) },
        { "type": "alias", "userId": "s-user", "previousId": "s-anon-2",
          "messageId": "ajs-alias", "timestamp": hours_ago(1) },
    ] });
    let (status, answer) = pipeline
        .send("/v1/batch", batch.to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let expected = [
        ("s-anon-1", "s-user", 1),
        ("s-anon-2", "s-user", 2),
        ("s-user", "s-user", 1),
    ];
    wait_for(&pipeline, "the Segment ids", mapping, &lines(&expected)).await;
    pipeline.wait_for_rows(2).await;
    assert_eq!(
        pipeline.query(
            "SELECT distinct_id, key, value, set_once FROM {db}.person_properties FINAL \
             ORDER BY key FORMAT TSV"
        ),
        "s-user\tplan\tteam\t0\ns-user\tseats\t5\t0"
    );
    assert_eq!(
        pipeline.query(
            "SELECT arrayElement(prop_values, indexOf(prop_keys, 'plan')) FROM {db}.events \
             WHERE event = '$identify'"
        ),
        "team",
        "the traits are still the identify event's properties"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn set_and_set_once_rows_give_the_latest_and_the_first_value_of_a_person() {
    let pipeline = Pipeline::start().await;
    let set = |values: Value| json!({ "$set": values });
    let set_once = |values: Value| json!({ "$set_once": values });
    // Sent latest first: time, not arrival, decides.
    let batch = [
        event("$pageview", "user-1", 1, set(json!({ "plan": "pro" }))),
        event("$pageview", "anon-1", 2, set(json!({ "plan": "basic" }))),
        event(
            "$pageview",
            "user-1",
            2,
            set_once(json!({ "plan": "second" })),
        ),
        event(
            "$pageview",
            "anon-1",
            3,
            set_once(json!({ "plan": "first", "source": "ad" })),
        ),
        event(
            "$identify",
            "user-1",
            4,
            json!({ "$anon_distinct_id": "anon-1", "$set": { "plan": "free", "name": "Ann" } }),
        ),
    ];
    send_posthog(&pipeline, &batch).await;
    pipeline.wait_for_rows(5).await;
    // A client's retry of the same batch writes the same rows.
    send_posthog(&pipeline, &batch).await;
    wait_for(
        &pipeline,
        "user-1's ids",
        mapping,
        &lines(&[("anon-1", "user-1", 1), ("user-1", "user-1", 1)]),
    )
    .await;
    assert_eq!(
        pipeline.query("SELECT count() FROM {db}.person_properties FINAL"),
        "7"
    );
    // The person's value: the latest `$set` across its ids, else the first `$set_once`.
    let resolved = pipeline.query(
        "SELECT key, if(countIf(set_once = 0) > 0, argMaxIf(value, timestamp, set_once = 0), \
         argMinIf(value, timestamp, set_once = 1)) FROM {db}.person_properties FINAL \
         WHERE distinct_id IN (SELECT distinct_id FROM {db}.person_ids FINAL \
         WHERE person_key = 'user-1') GROUP BY key ORDER BY key FORMAT TSV",
    );
    assert_eq!(resolved, "name\tAnn\nplan\tpro\nsource\tad");
    let first_once = pipeline.query(
        "SELECT argMin(value, timestamp) FROM {db}.person_properties FINAL \
         WHERE set_once = 1 AND key = 'plan'",
    );
    assert_eq!(first_once, "first");
}
