//! A stack on clusters instead of single servers: a JetStream cluster whose every stream and
//! bucket is kept on three nodes, ClickHouse shards of several replicas, and more than one
//! ingest, for the tests that take a node away under load.

use std::sync::Arc;

use super::services::Service;
use super::{Builder, TestStack};
use crate::nats::NatsUser;
use crate::test::{ServiceHandle, TestCluster, TestNatsCluster};

impl Builder {
    /// A JetStream cluster of `nodes` nats-servers instead of one; the services spread over
    /// the nodes and keep every stream and bucket on three of them (all, when fewer).
    pub fn nats_cluster(mut self, nodes: usize) -> Self {
        self.servers.nats = true;
        self.servers.nats_nodes = nodes;
        self
    }

    /// A ClickHouse cluster of `shards` × `replicas` servers (with its ZooKeeper) instead of a
    /// database on the shared server: the sink and query run in cluster mode
    /// (`CLICKHOUSE_CLUSTER`) through its first server.
    pub fn clickhouse_cluster(mut self, shards: usize, replicas: usize) -> Self {
        self.servers.clickhouse = true;
        self.servers.clickhouse_cluster = Some((shards, replicas));
        self
    }
}

impl TestStack {
    /// The JetStream cluster, for a test that stops or kills a node.
    pub fn nats_cluster_mut(&mut self) -> &mut TestNatsCluster {
        self.servers
            .nats_cluster
            .as_mut()
            .expect("the stack was built without a NATS cluster")
    }

    /// `user`'s NATS URL, on a cluster the node that user's services connect to.
    pub fn nats_url_for(&self, user: NatsUser) -> String {
        self.servers.nats_url_for(user)
    }

    /// The servers every stream and bucket is kept on (3 on a cluster of three or more).
    pub fn nats_replicas(&self) -> usize {
        self.servers.nats_replicas()
    }

    /// The ClickHouse cluster, for a test that stops or kills a server.
    pub fn clickhouse_cluster_mut(&mut self) -> &mut TestCluster {
        &mut self
            .servers
            .clickhouse_cluster
            .as_mut()
            .expect("the stack was built without a ClickHouse cluster")
            .0
    }

    /// The name of the ClickHouse cluster (`CLICKHOUSE_CLUSTER`).
    pub fn clickhouse_cluster_name(&self) -> &str {
        self.servers
            .clickhouse_cluster
            .as_ref()
            .expect("the stack was built without a ClickHouse cluster")
            .0
            .name()
    }

    /// Another ingest on the stack's servers, as the builder configured the stack's own, beside
    /// it; not waited for.
    pub fn another_ingest(&self) -> anyhow::Result<ServiceHandle> {
        let mut configs = self.configs.clone();
        configs.ingest.get_or_insert_with(|| Arc::new(|_| {}));
        let auth_url = self.url_of(Service::Auth);
        configs.spawn(Service::Ingest, &self.servers, &auth_url, None)
    }
}
