//! Replicas on a three-node JetStream cluster: a bucket made on one server before the cluster's
//! replica count was set moves to three when a service opens it, and provisioning never takes a
//! stream to fewer servers than it is on.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use devstack::nats::NatsUser;
use devstack::test::TestNatsCluster;
use plumbing::streams::{Definitions, Service, provision, raise_replicas};

async fn replicas_of(js: &jetstream::Context, stream: &str) -> usize {
    let mut stream = js.get_stream(stream).await.expect("the stream exists");
    stream.info().await.expect("info").config.num_replicas
}

#[tokio::test]
async fn a_bucket_moves_to_three_nodes_and_a_stream_never_to_fewer() {
    let cluster = TestNatsCluster::start(3).expect("three nats-servers");
    let js = jetstream::new(
        plumbing::streams::connect(cluster.url_for(0, NatsUser::Operator))
            .await
            .expect("nats"),
    );
    // A bucket as a service made it before `NATS_STREAM_REPLICAS` was set: on one server.
    devstack::wait::until_async(
        "JetStream to make a bucket",
        Duration::from_secs(120),
        || async {
            js.create_key_value(kv::Config {
                bucket: "OLD".to_owned(),
                ..Default::default()
            })
            .await
            .is_ok()
        },
    )
    .await
    .expect("the bucket exists");
    assert_eq!(replicas_of(&js, "KV_OLD").await, 1);
    raise_replicas(&js, "KV_OLD", 3).await;
    assert_eq!(replicas_of(&js, "KV_OLD").await, 3, "moved to three nodes");
    raise_replicas(&js, "KV_OLD", 1).await;
    assert_eq!(replicas_of(&js, "KV_OLD").await, 3, "never to fewer");

    // The sink's streams on three nodes, then provisioned by a service told nothing of it.
    provision(
        &js,
        &Definitions::for_service(Service::Sink, 3).expect("definitions"),
    )
    .await
    .expect("provisioned on three");
    provision(
        &js,
        &Definitions::for_service(Service::Sink, 1).expect("definitions"),
    )
    .await
    .expect("provisioned again");
    assert_eq!(
        replicas_of(&js, "EVENTS").await,
        3,
        "EVENTS stays on three nodes"
    );
}
