//! `TestStack::builder()`: the one way an integration test starts what it needs. The builder
//! names the services (auth, ingest, sink, query, each run in this process on a runtime of its
//! own and configured as in production but on free ports), the servers they need follow from
//! them (NATS of the test's own, a database of its own on the shared PostgreSQL and ClickHouse),
//! and the faults the test will cause (servers of its own that it may stop). Edge is started in
//! front as often as a test needs. Dropping the stack stops the services, then the servers.
//!
//! The services are libraries this crate depends on only with the `services` feature, which
//! only the test builds of the service crates turn on (their `[dev-dependencies]`): the
//! servers alone stay usable by `xtask` and by `plumbing`'s tests without building a service.

mod cluster;
mod drained;
mod servers;
mod services;

use std::net::SocketAddr;
use std::sync::Arc;

pub use servers::Fault;
pub use services::{ADMIN, PASSWORD, Service};

use crate::clickhouse::ClickHouse;
use crate::postgres::Postgres;
use crate::test::{ServiceHandle, TestNats, wait_for_readiness};
use servers::{Servers, Wanted};
use services::{Configs, NOWHERE};

/// What a test asks the stack for; [`Builder::start`] starts it.
#[derive(Debug, Default)]
#[must_use]
pub struct Builder {
    servers: Wanted,
    configs: Configs,
    later: Vec<Service>,
}

impl Builder {
    /// NATS of the test's own, with no service (a test that drives the streams itself).
    pub fn nats(mut self) -> Self {
        self.servers.nats = true;
        self
    }

    /// A database of the test's own on the shared PostgreSQL.
    pub fn postgres(mut self) -> Self {
        self.servers.postgres = true;
        self
    }

    /// A database of the test's own on the shared ClickHouse, created empty.
    pub fn clickhouse(mut self) -> Self {
        self.servers.clickhouse = true;
        self
    }

    /// A fault the test will cause.
    pub fn fault(mut self, fault: Fault) -> Self {
        match fault {
            Fault::ClickHouseOutage => self.servers.private_clickhouse = true,
            Fault::PostgresOutage => self.servers.private_postgres = true,
        }
        self
    }

    /// `service`, which the builder names as well, left for the test to start in its course
    /// ([`TestStack::start_service`]) instead of with the others (a sink that drains what
    /// piled up while none ran, say).
    pub fn later(mut self, service: Service) -> Self {
        self.later.push(service);
        self
    }

    /// Auth, with the first admin [`ADMIN`] (password [`PASSWORD`]).
    pub fn auth(self) -> Self {
        self.configure_auth(|_| {})
    }

    pub fn ingest(self) -> Self {
        self.configure_ingest(|_| {})
    }

    pub fn sink(self) -> Self {
        self.configure_sink(|_| {})
    }

    pub fn query(self) -> Self {
        self.configure_query(|_| {})
    }

    /// Auth, ingest, the sink and query: the whole pipeline behind edge.
    pub fn everything(self) -> Self {
        self.auth().ingest().sink().query()
    }

    /// Auth configured by `adjust` too (shorter token lifetimes, its signing keys).
    pub fn configure_auth(
        mut self,
        adjust: impl Fn(&mut auth::Config) + Send + Sync + 'static,
    ) -> Self {
        self.servers.nats = true;
        self.servers.postgres = true;
        self.configs.auth = Some(Arc::new(adjust));
        self
    }

    pub fn configure_ingest(
        mut self,
        adjust: impl Fn(&mut ingest::Config) + Send + Sync + 'static,
    ) -> Self {
        self.servers.nats = true;
        self.configs.ingest = Some(Arc::new(adjust));
        self
    }

    pub fn configure_sink(
        mut self,
        adjust: impl Fn(&mut sink::Config) + Send + Sync + 'static,
    ) -> Self {
        self.servers.nats = true;
        self.servers.clickhouse = true;
        self.configs.sink = Some(Arc::new(adjust));
        self
    }

    pub fn configure_query(
        mut self,
        adjust: impl Fn(&mut query::Config) + Send + Sync + 'static,
    ) -> Self {
        self.servers.nats = true;
        self.servers.clickhouse = true;
        self.configs.query = Some(Arc::new(adjust));
        self
    }

    /// Starts the servers, then the services ([`TestStack::start_services`]).
    pub fn start(self) -> anyhow::Result<TestStack> {
        let mut stack = self.start_servers()?;
        stack.start_services()?;
        Ok(stack)
    }

    /// Starts only the servers; the services named wait for [`TestStack::start_services`]
    /// (for a test that prepares the streams, say, before a service reads them).
    pub fn start_servers(self) -> anyhow::Result<TestStack> {
        Ok(TestStack {
            query: None,
            ingest: None,
            sink: None,
            auth: None,
            servers: Servers::start(self.servers)?,
            configs: self.configs,
            later: self.later,
        })
    }
}

/// The running stack. The services are listed first so they stop before the servers they use.
#[derive(Debug)]
pub struct TestStack {
    query: Option<ServiceHandle>,
    ingest: Option<ServiceHandle>,
    sink: Option<ServiceHandle>,
    auth: Option<ServiceHandle>,
    servers: Servers,
    configs: Configs,
    later: Vec<Service>,
}

impl TestStack {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts the services the builder named that are not running, but for those it left for
    /// [`TestStack::start_service`]: auth first (and waits until it is ready, with its first
    /// admin), then the others at once; waits until every one of them is ready.
    pub fn start_services(&mut self) -> anyhow::Result<()> {
        let now =
            |stack: &Self, service| stack.configs.wants(service) && !stack.later.contains(&service);
        if now(self, Service::Auth) {
            self.start_service(Service::Auth)?;
        }
        for service in Service::ALL {
            if now(self, service) && self.running(service).is_none() {
                let handle = self.spawn(service, None)?;
                *self.slot(service) = Some(handle);
            }
        }
        for service in Service::ALL {
            if let Some(handle) = self.slot(service).as_ref() {
                wait_for_readiness(handle, 200)?;
            }
        }
        Ok(())
    }

    /// `service`, which the builder must have named.
    pub fn service(&self, service: Service) -> &ServiceHandle {
        self.running(service)
            .unwrap_or_else(|| panic!("the stack runs no {}", service.name()))
    }

    pub fn auth(&self) -> &ServiceHandle {
        self.service(Service::Auth)
    }

    pub fn ingest(&self) -> &ServiceHandle {
        self.service(Service::Ingest)
    }

    pub fn sink(&self) -> &ServiceHandle {
        self.service(Service::Sink)
    }

    pub fn query(&self) -> &ServiceHandle {
        self.service(Service::Query)
    }

    /// The base URL of `service`, or an address where nothing listens when the stack does not
    /// run it (or it was stopped).
    pub fn url_of(&self, service: Service) -> String {
        self.running(service)
            .map_or_else(|| NOWHERE.to_owned(), |handle| handle.url(""))
    }

    /// Stops `service` gracefully; it stays stopped until [`TestStack::restart`].
    pub fn stop(&mut self, service: Service) -> anyhow::Result<()> {
        match self.slot(service).as_mut() {
            Some(handle) => handle.stop(),
            None => anyhow::bail!("the stack runs no {}", service.name()),
        }
    }

    /// Stops `service` (when it runs) and starts it again where its clients expect it, as the
    /// builder configured it; waits until it is ready.
    pub fn restart(&mut self, service: Service) -> anyhow::Result<()> {
        let Some(mut running) = self.slot(service).take() else {
            anyhow::bail!("the stack runs no {}", service.name());
        };
        running.stop()?;
        let addr = running.addr;
        drop(running);
        let handle = self.spawn(service, Some(addr))?;
        wait_for_readiness(&handle, 200)?;
        *self.slot(service) = Some(handle);
        Ok(())
    }

    /// [`TestStack::restart`] of auth, configured by `adjust` from now on (its signing keys).
    pub fn restart_auth(
        &mut self,
        adjust: impl Fn(&mut auth::Config) + Send + Sync + 'static,
    ) -> anyhow::Result<()> {
        self.configs.auth = Some(Arc::new(adjust));
        self.restart(Service::Auth)
    }

    /// Another query on the stack's servers, configured by `adjust` instead of the builder's
    /// change (tighter limits, say), beside the stack's own; not waited for.
    pub fn another_query(
        &self,
        adjust: impl Fn(&mut query::Config) + Send + Sync + 'static,
    ) -> anyhow::Result<ServiceHandle> {
        let mut configs = self.configs.clone();
        configs.query = Some(Arc::new(adjust));
        let auth_url = self.url_of(Service::Auth);
        configs.spawn(Service::Query, &self.servers, &auth_url, None)
    }

    /// Edge in front of the stack, configured by `adjust`; the services the stack does not
    /// run are where nothing listens. Waits until edge is ready when the stack runs every
    /// service edge checks (ingest, auth and query).
    pub fn edge(&self, adjust: impl FnOnce(&mut edge::Config)) -> anyhow::Result<ServiceHandle> {
        Ok(self.edge_with_internal(adjust)?.0)
    }

    /// [`TestStack::edge`], and the address of its internal listener (`/metrics`, the
    /// detailed `/readyz`).
    pub fn edge_with_internal(
        &self,
        adjust: impl FnOnce(&mut edge::Config),
    ) -> anyhow::Result<(ServiceHandle, SocketAddr)> {
        let upstreams = [
            Service::Ingest,
            Service::Auth,
            Service::Query,
            Service::Sink,
        ]
        .map(|service| self.url_of(service));
        let (edge, internal) = services::spawn_edge(upstreams, adjust)?;
        if [Service::Ingest, Service::Auth, Service::Query]
            .iter()
            .all(|service| self.running(*service).is_some())
        {
            wait_for_readiness(&edge, 200)?;
        }
        Ok((edge, internal))
    }

    /// The test's NATS server.
    pub fn nats(&self) -> &TestNats {
        self.servers.nats()
    }

    pub fn nats_mut(&mut self) -> &mut TestNats {
        self.servers
            .nats
            .as_mut()
            .expect("the stack was built without NATS")
    }

    /// The PostgreSQL server and the name of the test's database on it.
    pub fn postgres(&self) -> (&Postgres, &str) {
        self.servers.postgres()
    }

    /// The ClickHouse server and the name of the test's database on it.
    pub fn clickhouse(&self) -> (&ClickHouse, &str) {
        self.servers.clickhouse()
    }

    /// `sql` run in the test's ClickHouse database: the answer as text.
    pub fn clickhouse_sql(&self, sql: &str) -> anyhow::Result<String> {
        let (server, db) = self.servers.clickhouse();
        server.query_in(db, sql)
    }

    /// Stops the test's own ClickHouse ([`Fault::ClickHouseOutage`]).
    pub fn stop_clickhouse(&mut self) -> anyhow::Result<()> {
        self.servers.private_clickhouse()?.server.stop();
        Ok(())
    }

    /// Starts the test's own ClickHouse again, on its ports and data.
    pub fn restart_clickhouse(&mut self) -> anyhow::Result<()> {
        self.servers.private_clickhouse()?.restart()
    }

    /// Stops the test's own PostgreSQL ([`Fault::PostgresOutage`]).
    pub fn stop_postgres(&mut self) -> anyhow::Result<()> {
        self.servers.private_postgres()?.server.stop();
        Ok(())
    }

    /// Starts the test's own PostgreSQL again, on its port and data.
    pub fn restart_postgres(&mut self) -> anyhow::Result<()> {
        self.servers.private_postgres()?.server.restart()
    }

    /// Starts `service`, which the builder named, unless it runs; waits until it is ready.
    pub fn start_service(&mut self, service: Service) -> anyhow::Result<()> {
        if !self.configs.wants(service) {
            anyhow::bail!("the builder did not name {}", service.name());
        }
        if self.running(service).is_some() {
            return Ok(());
        }
        let handle = self.spawn(service, None)?;
        wait_for_readiness(&handle, 200)?;
        *self.slot(service) = Some(handle);
        Ok(())
    }

    fn spawn(&self, service: Service, addr: Option<SocketAddr>) -> anyhow::Result<ServiceHandle> {
        let auth_url = self.url_of(Service::Auth);
        self.configs.spawn(service, &self.servers, &auth_url, addr)
    }

    fn running(&self, service: Service) -> Option<&ServiceHandle> {
        match service {
            Service::Auth => self.auth.as_ref(),
            Service::Ingest => self.ingest.as_ref(),
            Service::Sink => self.sink.as_ref(),
            Service::Query => self.query.as_ref(),
        }
    }

    fn slot(&mut self, service: Service) -> &mut Option<ServiceHandle> {
        match service {
            Service::Auth => &mut self.auth,
            Service::Ingest => &mut self.ingest,
            Service::Sink => &mut self.sink,
            Service::Query => &mut self.query,
        }
    }
}
