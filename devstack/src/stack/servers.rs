//! The servers under a test stack: NATS of the test's own, and a database of its own on the
//! shared PostgreSQL and ClickHouse, or servers of its own for a test that stops them, or
//! clusters of its own (a JetStream cluster, ClickHouse shards and replicas).

use plumbing::config::ClickHouseConfig;

use crate::clickhouse::ClickHouse;
use crate::nats::NatsUser;
use crate::postgres::Postgres;
use crate::test::{
    ClickHouseDb, PostgresDb, PrivateClickHouse, PrivatePostgres, TestCluster, TestNats,
    TestNatsCluster, unique_name,
};

/// What can go wrong that a test arranges before the stack starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// ClickHouse of the test's own, so the test may stop it and start it again
    /// ([`super::TestStack::stop_clickhouse`]); the shared one serves every other test.
    ClickHouseOutage,
    /// PostgreSQL of the test's own, so the test may stop it and start it again
    /// ([`super::TestStack::stop_postgres`]).
    PostgresOutage,
}

/// Which servers to start.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Wanted {
    pub(crate) nats: bool,
    pub(crate) postgres: bool,
    pub(crate) clickhouse: bool,
    pub(crate) private_postgres: bool,
    pub(crate) private_clickhouse: bool,
    /// A JetStream cluster of this many nodes instead of one server (0: one server).
    pub(crate) nats_nodes: usize,
    /// A ClickHouse cluster of (shards, replicas) instead of a database on the shared server.
    pub(crate) clickhouse_cluster: Option<(usize, usize)>,
}

/// A database on the shared server, or a server of the test's own.
#[derive(Debug)]
enum Placed<Shared, Private> {
    Shared(Shared),
    Private(Private),
}

/// The servers a stack started.
#[derive(Debug, Default)]
pub(crate) struct Servers {
    pub(crate) nats: Option<TestNats>,
    pub(crate) nats_cluster: Option<TestNatsCluster>,
    postgres: Option<Placed<PostgresDb, PrivatePostgres>>,
    clickhouse: Option<Placed<ClickHouseDb, (PrivateClickHouse, String)>>,
    pub(crate) clickhouse_cluster: Option<(TestCluster, String)>,
}

/// The database a private server holds: the services do not know the difference.
const PRIVATE_DATABASE: &str = "test";

impl Servers {
    /// Starts what `wanted` names. The ClickHouse database is created here, so query finds it
    /// even in a stack without the sink (which would create it).
    pub(crate) fn start(wanted: Wanted) -> anyhow::Result<Self> {
        let nats_cluster = (wanted.nats_nodes > 0)
            .then(|| TestNatsCluster::start(wanted.nats_nodes))
            .transpose()?;
        let nats = (wanted.nats && nats_cluster.is_none())
            .then(TestNats::start)
            .transpose()?;
        let clickhouse_cluster = wanted
            .clickhouse_cluster
            .map(|(shards, replicas)| {
                let cluster = TestCluster::start_replicated(shards, replicas)?;
                let database = unique_name("test");
                for server in &cluster.servers {
                    server.create_database(&database)?;
                }
                anyhow::Ok((cluster, database))
            })
            .transpose()?;
        let postgres = if wanted.private_postgres {
            Some(Placed::Private(PrivatePostgres::start(PRIVATE_DATABASE)?))
        } else if wanted.postgres {
            Some(Placed::Shared(PostgresDb::create()?))
        } else {
            None
        };
        let clickhouse = if wanted.private_clickhouse {
            let server = PrivateClickHouse::start()?;
            server.server.create_database(PRIVATE_DATABASE)?;
            Some(Placed::Private((server, PRIVATE_DATABASE.to_owned())))
        } else if wanted.clickhouse && clickhouse_cluster.is_none() {
            let db = ClickHouseDb::unique();
            db.server().create_database(&db.name)?;
            Some(Placed::Shared(db))
        } else {
            None
        };
        Ok(Self {
            nats,
            nats_cluster,
            postgres,
            clickhouse,
            clickhouse_cluster,
        })
    }

    pub(crate) fn nats(&self) -> &TestNats {
        self.nats
            .as_ref()
            .expect("the stack was built without NATS, or with a cluster of them")
    }

    /// `user`'s URL: of the one server, or on a cluster of a node of its own (the services
    /// spread over the nodes, as a load balancer would spread them).
    pub(crate) fn nats_url_for(&self, user: NatsUser) -> String {
        match &self.nats_cluster {
            Some(cluster) => cluster.url_for(user as usize % cluster.nodes.len(), user),
            None => self.nats().url_for(user),
        }
    }

    /// The servers every stream is kept on: each node of a cluster, up to three.
    pub(crate) fn nats_replicas(&self) -> usize {
        self.nats_cluster
            .as_ref()
            .map_or(1, |cluster| cluster.nodes.len().min(3))
    }

    /// How the sink and query reach ClickHouse: the test's database, on a cluster through its
    /// first server.
    pub(crate) fn clickhouse_config(&self) -> ClickHouseConfig {
        let (server, db) = self.clickhouse();
        ClickHouseConfig {
            cluster: self
                .clickhouse_cluster
                .as_ref()
                .map(|(cluster, _)| cluster.name().to_owned()),
            ..ClickHouseConfig::local(server.http_port(), db)
        }
    }

    /// The PostgreSQL server and the test's database on it.
    pub(crate) fn postgres(&self) -> (&Postgres, &str) {
        match self.postgres.as_ref() {
            Some(Placed::Shared(db)) => (db.server(), &db.name),
            Some(Placed::Private(own)) => (&own.server, PRIVATE_DATABASE),
            None => panic!("the stack was built without PostgreSQL"),
        }
    }

    /// The ClickHouse server and the test's database on it.
    pub(crate) fn clickhouse(&self) -> (&ClickHouse, &str) {
        if let Some((cluster, db)) = &self.clickhouse_cluster {
            return (&cluster.servers[0], db);
        }
        match self.clickhouse.as_ref() {
            Some(Placed::Shared(db)) => (db.server(), &db.name),
            Some(Placed::Private((own, name))) => (&own.server, name),
            None => panic!("the stack was built without ClickHouse"),
        }
    }

    pub(crate) fn private_postgres(&mut self) -> anyhow::Result<&mut PrivatePostgres> {
        match self.postgres.as_mut() {
            Some(Placed::Private(own)) => Ok(own),
            _ => anyhow::bail!("PostgreSQL is shared: build the stack with Fault::PostgresOutage"),
        }
    }

    pub(crate) fn private_clickhouse(&mut self) -> anyhow::Result<&mut PrivateClickHouse> {
        match self.clickhouse.as_mut() {
            Some(Placed::Private((own, _))) => Ok(own),
            _ => {
                anyhow::bail!("ClickHouse is shared: build the stack with Fault::ClickHouseOutage")
            }
        }
    }
}
