//! Clusters of one test's own, on free ports of 127.0.0.1: ClickHouse shards and replicas with
//! their ZooKeeper, and a JetStream cluster of nats-servers. Everything is stopped and its
//! folders removed on drop.

use crate::clickhouse::{ClickHouse, ClickHousePorts, ClusterMember};
use crate::nats::{ClusterNode, NatsPasswords, NatsServer, NatsUser};
use crate::ports::free_port;
use crate::test_servers::{TempDir, unique_name};
use crate::zookeeper::ZooKeeper;

/// A ClickHouse cluster: a ZooKeeper and `shards` × `replicas` ClickHouse servers, configured as
/// the cluster [`Self::name`]. `servers` lists shard 1's replicas first, then shard 2's, and so
/// on ([`Self::server`]). Servers are stopped before ZooKeeper.
#[derive(Debug)]
pub struct TestCluster {
    pub servers: Vec<ClickHouse>,
    pub zookeeper: ZooKeeper,
    name: String,
    replicas: usize,
    _dir: TempDir,
}

impl TestCluster {
    /// `shards` servers, one replica per shard.
    pub fn start(shards: usize) -> anyhow::Result<Self> {
        Self::start_replicated(shards, 1)
    }

    /// `shards` shards of `replicas` servers each.
    pub fn start_replicated(shards: usize, replicas: usize) -> anyhow::Result<Self> {
        let dir = TempDir::new("clickhouse-cluster")?;
        let zookeeper = ZooKeeper::start(&dir.path().join("zookeeper"), free_port()?)?;
        let name = unique_name("cluster");
        let ports = (0..shards * replicas)
            .map(|_| {
                Ok(ClickHousePorts {
                    http: free_port()?,
                    tcp: free_port()?,
                    interserver: free_port()?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let layout: Vec<Vec<u16>> = ports
            .chunks(replicas)
            .map(|shard| shard.iter().map(|p| p.tcp).collect())
            .collect();
        // The servers start side by side: each takes seconds, mostly waiting.
        let starting: Vec<_> = ports
            .iter()
            .enumerate()
            .map(|(index, ports)| {
                let member = ClusterMember {
                    cluster: name.clone(),
                    shards: layout.clone(),
                    shard: index / replicas + 1,
                    replica: index % replicas + 1,
                    zookeeper_port: zookeeper.port(),
                };
                let server_dir = dir
                    .path()
                    .join(format!("shard{}-{}", member.shard, member.replica));
                let ports = *ports;
                std::thread::spawn(move || {
                    ClickHouse::start_member(&server_dir, ports, Some(&member))
                })
            })
            .collect();
        let servers = joined(starting, "a ClickHouse start")?;
        Ok(Self {
            servers,
            zookeeper,
            name,
            replicas,
            _dir: dir,
        })
    }

    /// The cluster's name in the servers' `remote_servers` (`CLICKHOUSE_CLUSTER`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replica `replica` (from 1) of shard `shard` (from 1).
    pub fn server(&mut self, shard: usize, replica: usize) -> &mut ClickHouse {
        &mut self.servers[(shard - 1) * self.replicas + replica - 1]
    }

    /// Starts a stopped (or killed) server again, once it reads ZooKeeper: it then catches up
    /// with its shard's other replicas by itself.
    pub fn restart(&mut self, shard: usize, replica: usize) -> anyhow::Result<()> {
        let server = self.server(shard, replica);
        server.restart()?;
        server.wait_for_zookeeper()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            server.stop();
        }
        self.zookeeper.stop();
    }
}

/// A JetStream cluster of `nodes` nats-servers sharing one set of users.
#[derive(Debug)]
pub struct TestNatsCluster {
    pub nodes: Vec<NatsServer>,
    _dir: TempDir,
}

impl TestNatsCluster {
    pub fn start(nodes: usize) -> anyhow::Result<Self> {
        let dir = TempDir::new("nats-cluster")?;
        let cluster = unique_name("nats");
        let passwords = NatsPasswords::generate();
        let ports = (0..nodes)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<anyhow::Result<Vec<(u16, u16)>>>()?;
        let route_ports: Vec<u16> = ports.iter().map(|(_, route)| *route).collect();
        // Side by side: each waits for its client port only, not for the others.
        let starting: Vec<_> = ports
            .iter()
            .enumerate()
            .map(|(index, &(port, route_port))| {
                let node = ClusterNode {
                    cluster: cluster.clone(),
                    name: format!("node{}", index + 1),
                    route_port,
                    route_ports: route_ports.clone(),
                };
                let node_dir = dir.path().join(&node.name);
                let passwords = passwords.clone();
                std::thread::spawn(move || {
                    NatsServer::start_node(&node_dir, port, None, passwords, Some(node))
                })
            })
            .collect();
        let servers = joined(starting, "a nats-server start")?;
        Ok(Self {
            nodes: servers,
            _dir: dir,
        })
    }

    /// `user`'s URL of node `index` (from 0). A client learns the other nodes from it and
    /// moves to one of them when it goes.
    pub fn url_for(&self, index: usize, user: NatsUser) -> String {
        self.nodes[index].url_for(user)
    }
}

impl Drop for TestNatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
    }
}

/// What the servers started side by side on `threads` gave, in order; the first failure (or
/// panic, named `what`) fails it all.
fn joined<T>(
    threads: Vec<std::thread::JoinHandle<anyhow::Result<T>>>,
    what: &str,
) -> anyhow::Result<Vec<T>> {
    threads
        .into_iter()
        .map(|thread| {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("{what} panicked"))?
        })
        .collect()
}
