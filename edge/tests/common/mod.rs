//! The stack the edge tests run against: every service on real NATS, Postgres and ClickHouse,
//! edge in front of them serving the built web app, and the first admin's credentials.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod browser;

use std::net::SocketAddr;
use std::path::PathBuf;

use devstack::nats::NatsUser;
use devstack::test::{
    ClickHouseDb, PostgresDb, ServiceHandle, TestNats, spawn_service, wait_for_readiness,
};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig, PostgresConfig};

pub const ADMIN: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn http() -> HttpConfig {
    HttpConfig::ephemeral()
}

pub fn ui_dir() -> PathBuf {
    let dir = devstack::workspace_root().join("ui/dist");
    assert!(
        dir.join("index.html").exists(),
        "the web app is not built: run `cargo xtask test` (or `cargo xtask ui`) first"
    );
    dir
}

pub fn edge(ingest: String, auth: String, query: String) -> anyhow::Result<ServiceHandle> {
    edge_with(ingest, auth, query, |_| {})
}

pub fn edge_with(
    ingest: String,
    auth: String,
    query: String,
    adjust: impl FnOnce(&mut edge::Config),
) -> anyhow::Result<ServiceHandle> {
    Ok(edge_with_internal(ingest, auth, query, adjust)?.0)
}

/// [`edge_with`], and the address of edge's internal listener (`/metrics`, the detailed
/// `/readyz`).
pub fn edge_with_internal(
    ingest: String,
    auth: String,
    query: String,
    adjust: impl FnOnce(&mut edge::Config),
) -> anyhow::Result<(ServiceHandle, SocketAddr)> {
    let mut config = edge::Config::new(ingest, auth, query, ui_dir());
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

/// `method url` with an optional bearer `token` and JSON `body`: the status and the answer's JSON
/// (null when it is not JSON).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let answer = request.send().await?;
    let status = answer.status().as_u16();
    Ok((status, answer.json().await.unwrap_or_default()))
}

/// Registers a user through edge (`name` left out when empty); the new account as auth answers
/// it.
pub async fn register(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    email: &str,
    password: &str,
    name: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut body = serde_json::json!({ "email": email, "password": password });
    if !name.is_empty() {
        body["name"] = serde_json::Value::from(name);
    }
    let (status, user) = call(
        http,
        reqwest::Method::POST,
        edge.url("/api/auth/register"),
        None,
        Some(&body),
    )
    .await?;
    anyhow::ensure!(status == 201, "register {email}: {status} {user}");
    Ok(user)
}

/// Every service on real NATS, Postgres and ClickHouse, with a first admin. Services are listed
/// first so they stop before the servers they use.
pub struct Stack {
    pub query: ServiceHandle,
    pub ingest: ServiceHandle,
    pub sink: ServiceHandle,
    pub auth: ServiceHandle,
    pub nats: TestNats,
    pg: PostgresDb,
    pub ch: ClickHouseDb,
}

impl Stack {
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {})
    }

    /// The stack with auth configured by `adjust_auth` (shorter token lifetimes, say).
    pub fn start_with(adjust_auth: impl FnOnce(&mut auth::Config)) -> anyhow::Result<Self> {
        let nats = TestNats::start()?;
        let pg = PostgresDb::create()?;
        let ch = ClickHouseDb::unique();
        let auth = spawn_auth(&nats, &pg, None, adjust_auth)?;
        wait_for_readiness(&auth, 200)?;
        let ingest = spawn_service("ingest", {
            let config = ingest::Config::new(
                http(),
                NatsConfig {
                    url: nats.url_for(NatsUser::Ingest),
                },
                ingest::AuthConfig::at(auth.url("")),
            );
            move |listener, shutdown| ingest::run(config, listener, shutdown)
        })?;
        let sink = spawn_service("sink", {
            let config = sink::Config {
                http: http(),
                nats: NatsConfig {
                    url: nats.url_for(NatsUser::Sink),
                },
                clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
                batch: sink::consumer::BatchSettings {
                    max_wait_ms: 50,
                    ..Default::default()
                },
            };
            move |listener, shutdown| sink::run(config, listener, shutdown)
        })?;
        let query = spawn_service("query", {
            let config = query::Config {
                http: http(),
                nats: NatsConfig {
                    url: nats.url_for(NatsUser::Query),
                },
                clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
                auth: plumbing::jwt::AuthConfig::at(auth.url("")),
                limits: query::Limits::default(),
                sql_log: None,
            };
            move |listener, shutdown| query::run(config, listener, shutdown)
        })?;
        Ok(Self {
            query,
            ingest,
            sink,
            auth,
            nats,
            pg,
            ch,
        })
    }

    /// Stops auth and starts it again where its clients expect it, configured by `adjust`.
    pub fn restart_auth(&mut self, adjust: impl FnOnce(&mut auth::Config)) -> anyhow::Result<()> {
        let addr = self.auth.addr;
        self.auth.stop()?;
        self.auth = spawn_auth(&self.nats, &self.pg, Some(addr), adjust)?;
        wait_for_readiness(&self.auth, 200)?;
        Ok(())
    }

    /// Edge in front of the stack (and probing the sink for the system status), configured by
    /// `adjust`.
    pub fn edge(&self, adjust: impl FnOnce(&mut edge::Config)) -> anyhow::Result<ServiceHandle> {
        Ok(self.edge_with_internal(adjust)?.0)
    }

    /// [`Stack::edge`], and the address of its internal listener.
    pub fn edge_with_internal(
        &self,
        adjust: impl FnOnce(&mut edge::Config),
    ) -> anyhow::Result<(ServiceHandle, SocketAddr)> {
        let sink_url = self.sink.url("");
        let (edge, internal) = edge_with_internal(
            self.ingest.url(""),
            self.auth.url(""),
            self.query.url(""),
            |config| {
                config.sink_url = sink_url;
                adjust(config);
            },
        )?;
        wait_for_readiness(&edge, 200)?;
        Ok((edge, internal))
    }
}

/// Auth with the first admin, configured by `adjust` (its signing keys, say), on `addr` (any
/// free port when `None`).
pub fn spawn_auth(
    nats: &TestNats,
    pg: &PostgresDb,
    addr: Option<std::net::SocketAddr>,
    adjust: impl FnOnce(&mut auth::Config),
) -> anyhow::Result<ServiceHandle> {
    let mut config = auth::Config::with_defaults(
        http(),
        NatsConfig {
            url: nats.url_for(NatsUser::Auth),
        },
        PostgresConfig::local(pg.server().port(), &pg.name, pg.server().password()),
    )?;
    config.first_admin = Some((ADMIN.to_owned(), plumbing::config::Secret::new(PASSWORD)));
    adjust(&mut config);
    let run = move |listener, shutdown| auth::run(config, listener, shutdown);
    match addr {
        Some(addr) => devstack::test::spawn_service_at("auth", addr, run),
        None => spawn_service("auth", run),
    }
}

/// Auth's signing keys set to `keys` (comma-separated lines).
pub fn signing_keys(keys: String) -> impl FnOnce(&mut auth::Config) {
    move |config| config.keys = auth::KeySource::Inline(plumbing::config::Secret::new(keys))
}
