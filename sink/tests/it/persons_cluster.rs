//! Persons on a ClickHouse cluster (two ClickHouse 18.16 shards, ZooKeeper): the sink writes
//! `person_ids` and `person_properties` through their `Distributed` tables, a person's ids
//! spread over both shards are found and moved together by a merge, and a rebuild empties
//! every shard and gives the same mapping again.

use std::time::Duration;

use devstack::stack::TestStack;
use devstack::test::{TestCluster, spawn_service, unique_name};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{KEY, prepare_streams};
use crate::persons::applied;

/// How long the sink may take to apply its schema ON CLUSTER: a loaded machine running the
/// other tests beside this one has taken more than the 180 s ClickHouse gives one statement.
const DDL: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread")]
async fn on_a_cluster_a_persons_ids_on_both_shards_merge_together_and_a_rebuild_gives_them_again() {
    let cluster = TestCluster::start(2).expect("zookeeper and two clickhouse servers");
    let mut stack = TestStack::builder()
        .configure_ingest(|config| config.quotas = ingest::QuotaConfig::unlimited())
        .start_servers()
        .expect("nats starts");
    let project = Uuid::now_v7();
    let js = prepare_streams(stack.nats(), project, KEY).await;
    let database = unique_name("test");
    let config = ClickHouseConfig {
        cluster: Some(cluster.name().to_owned()),
        ..ClickHouseConfig::local(cluster.servers[0].http_port(), &database)
    };
    let sink = spawn_service("sink", {
        let config = sink::Config {
            http: HttpConfig::ephemeral(),
            nats: NatsConfig::new(stack.nats().url()),
            clickhouse: config.clone(),
            batch: sink::BatchSettings::default(),
        };
        move |l, s| sink::run(config, l, s)
    })
    .expect("sink");
    stack.start_services().expect("ingest starts");
    if let Err(err) = devstack::test::wait_for_readiness_within(&sink, 200, DDL) {
        let tables: Vec<_> = cluster
            .servers
            .iter()
            .map(|server| {
                server.query(&format!(
                    "SELECT name FROM system.tables WHERE database = '{database}' ORDER BY name"
                ))
            })
            .collect();
        panic!("{err:#}: the sink's ON CLUSTER schema, as far as each server has it: {tables:?}");
    }

    // Two persons of five ids each, then one joins the other.
    let identify = |user: &str, anon: &str| {
        json!({ "uuid": Uuid::now_v7(), "event": "$identify", "distinct_id": user,
                "properties": { "$anon_distinct_id": anon, "$set": { "plan": user } } })
    };
    let mut batches: Vec<Vec<Value>> = Vec::new();
    for person in ["a", "b"] {
        let user = format!("user-{person}");
        batches.push(
            (1..=4)
                .map(|n| identify(&user, &format!("anon-{person}{n}")))
                .collect(),
        );
    }
    batches.push(vec![identify("user-a", "user-b")]);
    let http = reqwest::Client::new();
    for batch in &batches {
        let response = http
            .post(stack.ingest().url("/batch/"))
            .json(&json!({ "api_key": KEY, "batch": batch }))
            .send()
            .await
            .expect("ingest answers");
        assert_eq!(response.status(), 200);
    }
    applied(&js, 9).await;

    let server = &cluster.servers[0];
    let mapping = || {
        server
            .query_in(
                &database,
                "SELECT distinct_id, argMax(person_key, version) FROM person_ids \
                 GROUP BY distinct_id ORDER BY distinct_id FORMAT TSV",
            )
            .expect("mapping")
    };
    let expected: String = ["anon-a1", "anon-a2", "anon-a3", "anon-a4"]
        .into_iter()
        .chain([
            "anon-b1", "anon-b2", "anon-b3", "anon-b4", "user-a", "user-b",
        ])
        .map(|id| format!("{id}\tuser-a\n"))
        .collect();
    assert_eq!(mapping(), expected, "one person, across the shards");
    let on_shards: Vec<u64> = cluster
        .servers
        .iter()
        .map(|shard| {
            shard
                .query_in(
                    &database,
                    "SELECT uniqExact(distinct_id) FROM person_ids_local",
                )
                .expect("shard rows")
                .trim()
                .parse()
                .expect("a number")
        })
        .collect();
    assert!(
        on_shards.iter().all(|ids| *ids > 0) && on_shards.iter().sum::<u64>() == 10,
        "each id on one shard, both shards used: {on_shards:?}"
    );
    devstack::wait::until_async("the person properties", Duration::from_secs(60), || async {
        server
            .query_in(&database, "SELECT count() FROM person_properties")
            .is_ok_and(|count| count.trim() == "9")
    })
    .await
    .expect("one plan per identify");

    sink::persons::rebuild_persons(
        &js,
        &plumbing::clickhouse::server_client(&config),
        &sink::schema::Layout::of(&config).expect("layout"),
        Duration::from_millis(200),
    )
    .await
    .expect("rebuilt");
    applied(&js, 9).await;
    devstack::wait::until_async("the rebuilt mapping", Duration::from_secs(60), || async {
        mapping() == expected
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: {}", mapping()));
}
