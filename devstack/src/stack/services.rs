//! How the stack starts each service in this process: its configuration for a test (a free
//! port, the stack's servers, its own NATS user, the services started before it, a first
//! admin), changed by what the test asked, and its `run` on a runtime of its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use plumbing::config::{HttpConfig, NatsConfig, PostgresConfig, Secret};

use super::servers::Servers;
use crate::nats::NatsUser;
use crate::test::{ServiceHandle, Shutdown, spawn_service, spawn_service_at};

/// The first admin auth creates in every stack.
pub const ADMIN: &str = "admin@example.com";
/// The first admin's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// Where nothing listens: the address of a service the stack does not run.
pub(crate) const NOWHERE: &str = "http://127.0.0.1:9";

/// A service the stack runs in this process. Edge is not one of them: a test starts as many
/// edges in front of a stack as it needs ([`super::TestStack::edge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Auth,
    Ingest,
    Sink,
    Query,
}

impl Service {
    /// In the order the stack starts them: auth first, whose keys the others verify with.
    pub(crate) const ALL: [Service; 4] = [
        Service::Auth,
        Service::Ingest,
        Service::Sink,
        Service::Query,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Ingest => "ingest",
            Service::Sink => "sink",
            Service::Query => "query",
        }
    }
}

/// A change a test makes to a service's configuration; kept, so a restart applies it again.
pub(crate) type Adjust<C> = Arc<dyn Fn(&mut C) + Send + Sync>;

/// The services a test asked for, each with the changes to its configuration.
#[derive(Clone, Default)]
pub(crate) struct Configs {
    pub(crate) auth: Option<Adjust<auth::Config>>,
    pub(crate) ingest: Option<Adjust<ingest::Config>>,
    pub(crate) sink: Option<Adjust<sink::Config>>,
    pub(crate) query: Option<Adjust<query::Config>>,
}

impl std::fmt::Debug for Configs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configs")
            .field("auth", &self.auth.is_some())
            .field("ingest", &self.ingest.is_some())
            .field("sink", &self.sink.is_some())
            .field("query", &self.query.is_some())
            .finish()
    }
}

/// Applies the test's change, if it made one, to `config`.
fn apply<C>(adjust: Option<&Adjust<C>>, config: &mut C) {
    if let Some(adjust) = adjust {
        adjust(config);
    }
}

impl Configs {
    pub(crate) fn wants(&self, service: Service) -> bool {
        match service {
            Service::Auth => self.auth.is_some(),
            Service::Ingest => self.ingest.is_some(),
            Service::Sink => self.sink.is_some(),
            Service::Query => self.query.is_some(),
        }
    }

    /// Starts `service` on `addr` (any free port when `None`), at `auth_url` for the services
    /// that verify tokens.
    pub(crate) fn spawn(
        &self,
        service: Service,
        servers: &Servers,
        auth_url: &str,
        addr: Option<SocketAddr>,
    ) -> anyhow::Result<ServiceHandle> {
        let nats = |user| NatsConfig {
            url: servers.nats_url_for(user),
            replicas: servers.nats_replicas(),
        };
        let clickhouse = || servers.clickhouse_config();
        match service {
            Service::Auth => {
                let (server, db) = servers.postgres();
                let mut config = auth::Config::with_defaults(
                    HttpConfig::ephemeral(),
                    nats(NatsUser::Auth),
                    PostgresConfig::local(server.port(), db, server.password()),
                )?;
                config.first_admin = Some((ADMIN.to_owned(), Secret::new(PASSWORD)));
                apply(self.auth.as_ref(), &mut config);
                spawn("auth", addr, move |l, s| auth::run(config, l, s))
            }
            Service::Ingest => {
                let mut config = ingest::Config::new(
                    HttpConfig::ephemeral(),
                    nats(NatsUser::Ingest),
                    ingest::AuthConfig::at(auth_url.to_owned()),
                );
                config.geoip = geoip();
                apply(self.ingest.as_ref(), &mut config);
                spawn("ingest", addr, move |l, s| ingest::run(config, l, s))
            }
            Service::Sink => {
                let mut config = sink::Config {
                    http: HttpConfig::ephemeral(),
                    nats: nats(NatsUser::Sink),
                    clickhouse: clickhouse(),
                    // Tests wait for rows: a batch goes out within 50 ms.
                    batch: sink::BatchSettings {
                        max_wait_ms: 50,
                        ..Default::default()
                    },
                };
                apply(self.sink.as_ref(), &mut config);
                spawn("sink", addr, move |l, s| sink::run(config, l, s))
            }
            Service::Query => {
                let mut config = query::Config {
                    http: HttpConfig::ephemeral(),
                    nats: nats(NatsUser::Query),
                    clickhouse: clickhouse(),
                    auth: plumbing::jwt::AuthConfig::at(auth_url.to_owned()),
                    limits: query::Limits::default(),
                    sql_log: None,
                };
                apply(self.query.as_ref(), &mut config);
                spawn("query", addr, move |l, s| query::run(config, l, s))
            }
        }
    }
}

/// The GeoIP database of every ingest this process starts (DB-IP's, installed on first use):
/// read once, since a copy takes about 130 MB. Without one ingest runs as it would in
/// production without `GEOIP_DB`, and the tests of locations fail saying why.
fn geoip() -> Option<ingest::GeoIp> {
    static GEOIP: OnceLock<Option<ingest::GeoIp>> = OnceLock::new();
    GEOIP
        .get_or_init(|| {
            crate::install::geoip_db()
                .and_then(|files| Ok(ingest::GeoIp::open(&files)?))
                .inspect_err(|err| eprintln!("ingest runs without a GeoIP database: {err:#}"))
                .ok()
        })
        .clone()
}

fn spawn<F, Fut>(name: &str, addr: Option<SocketAddr>, run: F) -> anyhow::Result<ServiceHandle>
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    match addr {
        Some(addr) => spawn_service_at(name, addr, run),
        None => spawn_service(name, run),
    }
}

/// The built web app edge serves.
pub(crate) fn ui_dir() -> PathBuf {
    let dir = crate::workspace_root().join("ui/dist");
    assert!(
        dir.join("index.html").exists(),
        "the web app is not built: run `cargo xtask test` (or `cargo xtask ui`) first"
    );
    dir
}

/// Edge in front of the services at these URLs, configured by `adjust`, and the address of
/// its internal listener (`/metrics`, the detailed `/readyz`).
pub(crate) fn spawn_edge(
    upstreams: [String; 4],
    adjust: impl FnOnce(&mut edge::Config),
) -> anyhow::Result<(ServiceHandle, SocketAddr)> {
    let [ingest, auth, query, sink] = upstreams;
    let mut config = edge::Config::new(ingest, auth, query, ui_dir());
    config.sink_url = sink;
    config.upstream_timeout_ms = 5_000;
    adjust(&mut config);
    let internal = std::net::TcpListener::bind("127.0.0.1:0")?;
    internal.set_nonblocking(true)?;
    let internal_addr = internal.local_addr()?;
    let edge = spawn_service("edge", move |public, shutdown| async move {
        let internal = tokio::net::TcpListener::from_std(internal)?;
        edge::run_on(config, edge::Listeners { public, internal }, shutdown).await
    })?;
    Ok((edge, internal_addr))
}
