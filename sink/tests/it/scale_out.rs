//! Scale-out under failure: a three-node JetStream cluster (every stream and bucket on three
//! nodes), ClickHouse as two shards of two replicas with ZooKeeper, two ingests each behind an
//! edge of its own, two sinks (processes of the test's own) and query. Under a steady load one
//! NATS node, one ClickHouse replica and one sink are killed with SIGKILL in turn: every event
//! that was answered 2xx is stored exactly once, and query keeps answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{KEY, publish_project, send_until_accepted, sink_process};
use devstack::nats::NatsUser;
use devstack::ports::free_port;
use devstack::stack::{ADMIN, PASSWORD, Service, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use futures_util::StreamExt as _;
use plumbing::streams::{Definitions, Service as Streams};
use reqwest::StatusCode;
use uuid::Uuid;

/// Senders keeping the load going, each sending one 100-event batch after another.
const SENDERS: usize = 4;
/// The sink processes' batch size (`SINK_BATCH_SIZE` of `common::sink_process`).
const SINK_BATCH: usize = 2_000;

/// What a sender retries while a node is gone: ingest's 503 (JetStream unavailable while its
/// streams elect new leaders), edge's 502/504 (ingest slow to answer meanwhile).
const RETRYABLE: [StatusCode; 3] = [
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::BAD_GATEWAY,
    StatusCode::GATEWAY_TIMEOUT,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_nats_node_a_clickhouse_replica_and_a_sink_under_load_loses_no_accepted_event() {
    let mut stack = TestStack::builder()
        .auth()
        .configure_ingest(|config| config.quotas = ingest::QuotaConfig::unlimited())
        .query()
        .later(Service::Query)
        .nats_cluster(3)
        .clickhouse_cluster(2, 2)
        .start_servers()
        .expect("a NATS cluster, a ClickHouse cluster and PostgreSQL start");
    let project = Uuid::now_v7();
    // The operator's connection, made before any node goes: it moves to another node then.
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(stack.nats_url_for(NatsUser::Operator))
            .await
            .expect("nats"),
    );
    provision_on_the_cluster(&stack, &js, project).await;
    stack.start_services().expect("auth and ingest start");

    // Two sinks on the one consumer, through different NATS nodes and ClickHouse servers.
    let dir = TempDir::new("scale-out").expect("dir");
    let mut sinks: Vec<_> = [(0, 1, 1), (1, 2, 2)]
        .into_iter()
        .map(|(node, shard, replica)| {
            let env = sink_env(&mut stack, node, shard, replica);
            let port = free_port().expect("port");
            let log = dir.path().join(format!("sink-{node}.log"));
            // The first start runs the schema's `ON CLUSTER` DDL on four servers.
            (
                sink_process(&log, port, &env, Duration::from_secs(600)),
                port,
            )
        })
        .collect();
    stack.start_service(Service::Query).expect("query ready");

    // Two ingests, each behind an edge of its own; the senders take turns.
    let second_ingest = stack.another_ingest().expect("a second ingest");
    devstack::test::wait_for_readiness(&second_ingest, 200).expect("second ingest ready");
    let edges = [
        stack.edge(|_| {}).expect("edge"),
        stack
            .edge(|config| config.ingest_url = second_ingest.url(""))
            .expect("second edge"),
    ];
    // Merges stopped: a row written twice stays counted twice, not merged away unseen.
    let stored = Stored(
        stack.clickhouse().0.http_port(),
        stack.clickhouse().1.to_owned(),
    );
    for server in &stack.clickhouse_cluster_mut().servers {
        stop_merges(server, &stored.1);
    }
    // The load: four senders taking turns over the two edges until told to stop.
    let accepted = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let url = edges[sender % edges.len()].url("/batch/");
            let (accepted, stop) = (Arc::clone(&accepted), Arc::clone(&stop));
            tokio::spawn(async move {
                let (http, mut batch, mut refusals) = (reqwest::Client::new(), sender, 0);
                while !stop.load(Ordering::SeqCst) {
                    let one = batch..batch + 1;
                    refusals += send_until_accepted(
                        http.clone(),
                        url.clone(),
                        one,
                        Arc::clone(&accepted),
                        &RETRYABLE,
                    )
                    .await;
                    batch += SENDERS;
                }
                refusals
            })
        })
        .collect();

    // Each kill once the pipeline has stored more since the one before. First the node that
    // leads EVENTS (its Raft group elects another), then the replica shard 2's inserts go to,
    // then a sink with its batch in flight.
    stored.at_least(10_000).await;
    let leader = events_leader(&js).await;
    stack.nats_cluster_mut().nodes[leader].process_mut().kill();
    eprintln!(
        "killed NATS node {leader}, EVENTS' leader, at {} stored",
        stored.now()
    );
    stored.at_least(stored.now() + 10_000).await;
    let new_leader = events_leader(&js).await;
    assert_ne!(new_leader, leader, "EVENTS has a new leader");
    stack
        .clickhouse_cluster_mut()
        .server(2, 1)
        .process_mut()
        .kill();
    eprintln!(
        "killed ClickHouse shard 2 replica 1 at {} stored",
        stored.now()
    );
    stored.at_least(stored.now() + 10_000).await;
    for (_, port) in &sinks {
        assert!(
            rows_inserted(*port) > 0,
            "both sinks take a share of the consumer"
        );
    }
    sinks[0].0.kill();
    eprintln!("killed sink 0 at {} stored", stored.now());
    stored.at_least(stored.now() + 10_000).await;

    // Query answers while the three are gone.
    let token = devstack::test::access_token(
        stack.auth().addr.port(),
        ADMIN,
        PASSWORD,
        Duration::from_secs(60),
    )
    .expect("the admin's token");
    let overview = events_counted(&edges[1], &token, project).await;
    assert!(overview > 0, "query answers during the failures");

    stop.store(true, Ordering::SeqCst);
    let mut refusals = 0;
    for sender in senders {
        refusals += sender.await.expect("a sender finished");
    }
    let total = accepted.load(Ordering::SeqCst);
    // The killed replica comes back: rows acked on it before its peer fetched them are there
    // again, and it fetches what it missed.
    let cluster = stack.clickhouse_cluster_mut();
    cluster.restart(2, 1).expect("the replica starts again");
    stop_merges(cluster.server(2, 1), &stored.1);
    devstack::wait::until(
        "shard 2's replicas in step",
        Duration::from_secs(300),
        || {
            [1, 2].iter().all(|&replica| {
                cluster
                    .server(2, replica)
                    .query(&format!(
                        "SELECT count() FROM system.replication_queue WHERE database = '{}' \
                         AND table = 'events_local' AND type = 'GET_PART'",
                        stored.1
                    ))
                    .is_ok_and(|queued| queued.trim() == "0")
            })
        },
    )
    .expect("replication catches up");
    // The killed sink's unacked batch comes to the other one after the consumer's ack wait.
    devstack::wait::until_async("every event stored", Duration::from_secs(600), || async {
        stored.distinct() == total
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: {} distinct stored", stored.distinct()));
    // A row is written twice only in the window docs/scaling.md names: an insert cut by the
    // replica's kill after that replica wrote its part (the sink, told nothing, looks the rows
    // up on the other replica and writes them again; the killed one brings its copy back). The
    // copies share their event id and merge away; what is left is each event once.
    let written = stored.now();
    eprintln!("{written} rows written for {total} events before merging");
    assert!(
        written - total <= 2 * SINK_BATCH,
        "at most the insert the replica's kill cut was written twice: {written} rows for {total}"
    );
    let servers = &stack.clickhouse_cluster_mut().servers;
    for server in servers {
        server
            .query(&format!("SYSTEM START MERGES {}.events_local", stored.1))
            .expect("merges started");
    }
    // A replica that does not lead its table hands the merge to the one that does, or refuses;
    // one per shard is enough, and the replicas share the merged part. An OPTIMIZE that finds
    // some parts already merging (the merges just started) does nothing and says nothing, so
    // it is asked again, every 5 s, until the copies are gone.
    let (mut asked, mut refusal) = (None::<Instant>, None);
    let once = devstack::wait::until("each event once", Duration::from_secs(300), || {
        if stored.now() == total {
            return true;
        }
        if asked.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
            asked = Some(Instant::now());
            for server in servers {
                let optimize = format!("OPTIMIZE TABLE {}.events_local FINAL", stored.1);
                if let Err(err) = server.query(&optimize) {
                    refusal = Some(format!("{err:#}"));
                }
            }
        }
        false
    });
    once.unwrap_or_else(|err| {
        panic!(
            "{err}: {} rows for {total} events; the last OPTIMIZE refused: {refusal:?}",
            stored.now()
        )
    });
    assert_eq!(
        events_counted(&edges[0], &token, project).await,
        total,
        "query counts each event once"
    );
    // Every stream and bucket the services made is on three nodes, so the node killed lost none.
    let mut streams = js.stream_names();
    let mut names = Vec::new();
    while let Some(name) = streams.next().await {
        let name = name.expect("a stream name");
        let info = js
            .get_stream(&name)
            .await
            .expect("stream")
            .cached_info()
            .clone();
        assert_eq!(info.config.num_replicas, 3, "{name} is on three nodes");
        names.push(name);
    }
    assert!(
        names.iter().any(|name| name == "KV_IMPORT_JOBS"),
        "ingest's buckets are among them: {names:?}"
    );
    eprintln!(
        "{total} events accepted ({refusals} refused answers retried), stored once each with \
         one NATS node, one ClickHouse replica and one sink killed"
    );
    sinks[1].0.stop();
}

/// `sink_rows_inserted_total` of the sink process on `port`.
fn rows_inserted(port: u16) -> u64 {
    devstack::test::metric_at(port, "sink_rows_inserted_total").unwrap_or(0.0) as u64
}

/// The node (index into the cluster's nodes) leading `EVENTS`, once it has a leader.
async fn events_leader(js: &async_nats::jetstream::Context) -> usize {
    let leader = &AtomicUsize::new(usize::MAX);
    devstack::wait::until_async(
        "EVENTS to have a leader",
        Duration::from_secs(120),
        move || async move {
            let info = match js.get_stream("EVENTS").await {
                Ok(mut stream) => stream.info().await.ok().cloned(),
                Err(_) => None,
            };
            // The devstack cluster names its nodes node1, node2, node3.
            let node = info
                .and_then(|info| info.cluster)
                .and_then(|cluster| cluster.leader)
                .and_then(|name| name.strip_prefix("node")?.parse::<usize>().ok());
            if let Some(number) = node {
                leader.store(number - 1, Ordering::SeqCst);
            }
            node.is_some()
        },
    )
    .await
    .expect("a leader");
    leader.load(Ordering::SeqCst)
}

/// Stops the background merges of the events table on `server`.
fn stop_merges(server: &devstack::clickhouse::ClickHouse, database: &str) {
    server
        .query(&format!("SYSTEM STOP MERGES {database}.events_local"))
        .expect("merges stopped");
}

/// Creates every stream on three nodes and publishes the project and its write key, once the
/// cluster's JetStream has a leader.
async fn provision_on_the_cluster(
    stack: &TestStack,
    js: &async_nats::jetstream::Context,
    project: Uuid,
) {
    devstack::wait::until_async(
        "JetStream to take the streams on three nodes",
        Duration::from_secs(120),
        || async {
            for service in [Streams::Auth, Streams::Ingest, Streams::Sink] {
                let definitions =
                    Definitions::for_service(service, stack.nats_replicas()).expect("definitions");
                if let Err(err) = plumbing::streams::provision(js, &definitions).await {
                    eprintln!("provisioning: {err:#}");
                    return false;
                }
            }
            true
        },
    )
    .await
    .expect("the streams exist");
    publish_project(js, project, KEY).await;
}

/// The environment of a sink process on NATS node `node` and ClickHouse server (`shard`,
/// `replica`).
fn sink_env(
    stack: &mut TestStack,
    node: usize,
    shard: usize,
    replica: usize,
) -> Vec<(&'static str, String)> {
    let url = stack.nats_cluster_mut().url_for(node, NatsUser::Sink);
    let replicas = stack.nats_replicas().to_string();
    let cluster = stack.clickhouse_cluster_name().to_owned();
    let database = stack.clickhouse().1.to_owned();
    let port = stack
        .clickhouse_cluster_mut()
        .server(shard, replica)
        .http_port();
    vec![
        ("NATS_URL", url),
        ("NATS_STREAM_REPLICAS", replicas),
        ("CLICKHOUSE_PORT", port.to_string()),
        ("CLICKHOUSE_DB", database),
        ("CLICKHOUSE_CLUSTER", cluster),
    ]
}

/// The stored events, read through the `Distributed` table of one ClickHouse server.
struct Stored(u16, String);

impl Stored {
    fn number(&self, sql: &str) -> usize {
        devstack::http::request(
            self.0,
            "POST",
            &format!("/?database={}", self.1),
            Some("text/plain"),
            sql.as_bytes(),
            Duration::from_secs(30),
        )
        .ok()
        .filter(|answer| answer.status == 200)
        .and_then(|answer| answer.body.trim().parse().ok())
        .unwrap_or(0)
    }

    /// Rows, copies included.
    fn now(&self) -> usize {
        self.number("SELECT count() FROM events")
    }

    fn distinct(&self) -> usize {
        self.number("SELECT uniqExact(event_id) FROM events")
    }

    async fn at_least(&self, rows: usize) {
        devstack::wait::until_async(
            &format!("{rows} rows stored"),
            Duration::from_secs(300),
            || async { self.now() >= rows },
        )
        .await
        .expect("the pipeline makes progress");
    }
}

/// The project's events of today and yesterday as the overview counts them, asked through
/// `edge`.
async fn events_counted(edge: &ServiceHandle, token: &str, project: Uuid) -> usize {
    let today = time::OffsetDateTime::now_utc().date();
    let path = format!(
        "/api/query/overview?project_id={project}&from={}&to={}",
        today.previous_day().expect("date"),
        today.next_day().expect("date"),
    );
    let answer = reqwest::Client::new()
        .get(edge.url(&path))
        .bearer_auth(token)
        .send()
        .await
        .expect("edge answers");
    assert_eq!(answer.status(), StatusCode::OK, "the overview");
    let body: serde_json::Value = answer.json().await.expect("json");
    body["figures"]["events"]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no event count in {body}")) as usize
}
