//! Test support: one ClickHouse and one PostgreSQL per test binary, a fresh database on them per
//! test (dropped with its handle), a private nats-server per test, a private ClickHouse cluster
//! (with its ZooKeeper) for the tests that need one, temporary folders removed on drop, and
//! services started on their own runtime thread.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::OnceLock;
use std::thread::JoinHandle;

use anyhow::Context as _;

use crate::clickhouse::{ClickHouse, ClickHousePorts, ClusterMember};
use crate::nats::NatsServer;
use crate::ports::free_port;
use crate::postgres::{Postgres, PostgresOptions};
use crate::zookeeper::ZooKeeper;

/// A folder under the system temp dir, removed when dropped. Its name carries our pid, so a
/// later run can sweep folders left by a test binary that was killed.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> anyhow::Result<Self> {
        sweep_stale();
        let path = std::env::temp_dir().join(format!(
            "devstack-{}-{label}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes temp folders of test processes that are gone.
fn sweep_stale() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("devstack-"))
                .and_then(|rest| rest.split('-').next())
            else {
                continue;
            };
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
}

/// A fresh, unique database name for one test.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

struct Shared<T> {
    server: T,
    _dir: TempDir,
}

/// The ClickHouse of this test binary, started on first use.
pub fn clickhouse() -> &'static ClickHouse {
    static SERVER: OnceLock<Shared<ClickHouse>> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let start = || -> anyhow::Result<Shared<ClickHouse>> {
                let dir = TempDir::new("clickhouse")?;
                let ports = ClickHousePorts {
                    http: free_port()?,
                    tcp: free_port()?,
                    interserver: free_port()?,
                };
                Ok(Shared {
                    server: ClickHouse::start(dir.path(), ports)?,
                    _dir: dir,
                })
            };
            start().unwrap_or_else(|err| panic!("cannot start ClickHouse for tests: {err:#}"))
        })
        .server
}

/// The PostgreSQL of this test binary, started on first use.
pub fn postgres() -> &'static Postgres {
    static SERVER: OnceLock<Shared<Postgres>> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let start = || -> anyhow::Result<Shared<Postgres>> {
                let dir = TempDir::new("postgres")?;
                let server = Postgres::start(PostgresOptions {
                    dir: dir.path().to_owned(),
                    port: free_port()?,
                    password: uuid::Uuid::new_v4().simple().to_string(),
                    ephemeral: true,
                })?;
                Ok(Shared { server, _dir: dir })
            };
            start().unwrap_or_else(|err| panic!("cannot start PostgreSQL for tests: {err:#}"))
        })
        .server
}

/// A database of its own on the shared ClickHouse, dropped with the handle.
#[derive(Debug)]
pub struct ClickHouseDb {
    pub name: String,
}

impl ClickHouseDb {
    /// A unique name; the database itself is created by whoever applies the schema.
    pub fn unique() -> Self {
        Self {
            name: unique_name("test"),
        }
    }

    pub fn server(&self) -> &'static ClickHouse {
        clickhouse()
    }
}

impl Drop for ClickHouseDb {
    fn drop(&mut self) {
        let _ = clickhouse().drop_database(&self.name);
    }
}

/// A database of its own on the shared PostgreSQL, dropped with the handle.
#[derive(Debug)]
pub struct PostgresDb {
    pub name: String,
}

impl PostgresDb {
    pub fn create() -> anyhow::Result<Self> {
        let name = unique_name("test");
        postgres().create_database(&name)?;
        Ok(Self { name })
    }

    pub fn server(&self) -> &'static Postgres {
        postgres()
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        let _ = postgres().drop_database(&self.name);
    }
}

/// A PostgreSQL server of one test's own (for tests that stop it), with its data folder.
#[derive(Debug)]
pub struct PrivatePostgres {
    pub server: Postgres,
    _dir: TempDir,
}

impl PrivatePostgres {
    /// Starts a server and creates `database` on it.
    pub fn start(database: &str) -> anyhow::Result<Self> {
        let dir = TempDir::new("postgres-private")?;
        let server = Postgres::start(PostgresOptions {
            dir: dir.path().to_owned(),
            port: free_port()?,
            password: uuid::Uuid::new_v4().simple().to_string(),
            ephemeral: true,
        })?;
        server.create_database(database)?;
        Ok(Self { server, _dir: dir })
    }
}

/// A ClickHouse server of one test's own (for tests that stop it), with its data folder.
#[derive(Debug)]
pub struct PrivateClickHouse {
    pub server: ClickHouse,
    dir: TempDir,
    ports: ClickHousePorts,
}

impl PrivateClickHouse {
    pub fn start() -> anyhow::Result<Self> {
        let dir = TempDir::new("clickhouse-private")?;
        let ports = ClickHousePorts {
            http: free_port()?,
            tcp: free_port()?,
            interserver: free_port()?,
        };
        let server = ClickHouse::start(dir.path(), ports)?;
        Ok(Self { server, dir, ports })
    }

    /// Starts the stopped server again on the same ports and data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.server.stop();
        self.server = ClickHouse::start(self.dir.path(), self.ports)?;
        Ok(())
    }
}

/// A ClickHouse cluster of one test's own: a ZooKeeper and `shards` ClickHouse servers, one
/// replica per shard, all on free ports of 127.0.0.1, configured as the cluster [`Self::name`].
/// Everything is stopped and its folders removed on drop, servers first.
#[derive(Debug)]
pub struct TestCluster {
    pub servers: Vec<ClickHouse>,
    pub zookeeper: ZooKeeper,
    name: String,
    _dir: TempDir,
}

impl TestCluster {
    pub fn start(shards: usize) -> anyhow::Result<Self> {
        let dir = TempDir::new("clickhouse-cluster")?;
        let zookeeper = ZooKeeper::start(&dir.path().join("zookeeper"), free_port()?)?;
        let name = unique_name("cluster");
        let ports = (0..shards)
            .map(|_| {
                Ok(ClickHousePorts {
                    http: free_port()?,
                    tcp: free_port()?,
                    interserver: free_port()?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let shard_tcp_ports: Vec<u16> = ports.iter().map(|p| p.tcp).collect();
        // The servers start side by side: each takes seconds, mostly waiting.
        let starting: Vec<_> = ports
            .iter()
            .enumerate()
            .map(|(index, ports)| {
                let member = ClusterMember {
                    cluster: name.clone(),
                    shard_tcp_ports: shard_tcp_ports.clone(),
                    shard: index + 1,
                    zookeeper_port: zookeeper.port(),
                };
                let server_dir = dir.path().join(format!("shard{}", index + 1));
                let ports = *ports;
                std::thread::spawn(move || {
                    ClickHouse::start_member(&server_dir, ports, Some(&member))
                })
            })
            .collect();
        let mut servers = Vec::new();
        for thread in starting {
            servers.push(
                thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("a ClickHouse start panicked"))??,
            );
        }
        Ok(Self {
            servers,
            zookeeper,
            name,
            _dir: dir,
        })
    }

    /// The cluster's name in the servers' `remote_servers` (`CLICKHOUSE_CLUSTER`).
    pub fn name(&self) -> &str {
        &self.name
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

/// A nats-server of one test's own, with its data folder.
#[derive(Debug)]
pub struct TestNats {
    pub server: NatsServer,
    _dir: TempDir,
}

impl TestNats {
    pub fn start() -> anyhow::Result<Self> {
        let dir = TempDir::new("nats")?;
        let server = NatsServer::start(
            dir.path(),
            free_port()?,
            None,
            crate::nats::NatsPasswords::generate(),
        )?;
        Ok(Self { server, _dir: dir })
    }

    /// The operator's URL: may do everything (tests inspect and prepare streams with it).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The URL a service connects with: its own user, allowed only what it needs.
    pub fn url_for(&self, user: crate::nats::NatsUser) -> String {
        self.server.url_for(user)
    }
}

/// The shutdown future handed to a service's `run`.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service running on its own thread and runtime, so a test may block (WebDriver, process
/// control) without starving it. Stopped (gracefully) on drop.
#[derive(Debug)]
pub struct ServiceHandle {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl ServiceHandle {
    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Triggers graceful shutdown and waits for `run` to return its result.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("service thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServiceHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Binds 127.0.0.1:0 and runs `run(listener, shutdown)` on a new thread with its own runtime.
pub fn spawn_service<F, Fut>(name: &str, run: F) -> anyhow::Result<ServiceHandle>
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    spawn_service_at(name, SocketAddr::from(([127, 0, 0, 1], 0)), run)
}

/// [`spawn_service`] on `addr`: a service restarted where its clients expect it.
pub fn spawn_service_at<F, Fut>(
    name: &str,
    addr: SocketAddr,
    run: F,
) -> anyhow::Result<ServiceHandle>
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("service-{name}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let shutdown: Shutdown = Box::pin(async move {
                    let _ = stopped.await;
                });
                run(listener, shutdown).await
            })
        })?;
    Ok(ServiceHandle {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// The access token of `email` from the auth (or the edge in front of it) on `port`, logging in
/// every half second until `timeout` has passed. A failed login counts towards auth's lock (10
/// per account), so callers first wait for auth's readiness, which includes its first admin.
pub fn access_token(
    port: u16,
    email: &str,
    password: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<String> {
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let answer = crate::http::request(
            port,
            "POST",
            "/api/auth/login",
            Some("application/json"),
            body.as_bytes(),
            std::time::Duration::from_secs(10),
        );
        match answer {
            Ok(response) if response.status == 200 => {
                let answer: serde_json::Value = serde_json::from_str(&response.body)?;
                return answer["access_token"]
                    .as_str()
                    .map(str::to_owned)
                    .context("the login answer holds no access token");
            }
            Ok(response) if response.status == 429 => {
                anyhow::bail!("logins as {email} are locked: {}", response.body)
            }
            _ if std::time::Instant::now() >= deadline => {
                anyhow::bail!("timed out after {timeout:?} waiting for a login as {email}")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
}

/// Where tests write artifacts a person may look at (screenshots): `target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    crate::workspace_root().join("target/test-artifacts")
}

/// `GET path` on a test service: status and body parsed as JSON (`Null` when it is not JSON).
pub fn get_json(service: &ServiceHandle, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    let response = crate::http::get(
        service.addr.port(),
        path,
        std::time::Duration::from_secs(10),
    )?;
    let body = serde_json::from_str(&response.body).unwrap_or(serde_json::Value::Null);
    Ok((response.status, body))
}

/// Waits until `/readyz` answers `status`; returns that answer's body.
pub fn wait_for_readiness(
    service: &ServiceHandle,
    status: u16,
) -> anyhow::Result<serde_json::Value> {
    let mut last = None;
    crate::wait::until(
        &format!("/readyz to answer {status}"),
        std::time::Duration::from_secs(60),
        || {
            last = get_json(service, "/readyz").ok();
            last.as_ref().is_some_and(|(s, _)| *s == status)
        },
    )
    .with_context(|| format!("last /readyz answer: {last:?}"))?;
    Ok(last.map(|(_, body)| body).unwrap_or_default())
}

/// Checks what every service must answer: `/healthz` 200 naming the service, and `/metrics`
/// in the Prometheus text format with `own_metric` (a metric of the service's own) in it.
pub fn assert_liveness_and_metrics(
    service: &ServiceHandle,
    name: &str,
    own_metric: &str,
) -> anyhow::Result<String> {
    let (status, body) = get_json(service, "/healthz")?;
    anyhow::ensure!(status == 200, "/healthz answered {status}: {body}");
    anyhow::ensure!(
        body["service"] == name && body["status"] == "ok",
        "/healthz body: {body}"
    );
    let metrics = crate::http::get(
        service.addr.port(),
        "/metrics",
        std::time::Duration::from_secs(10),
    )?;
    anyhow::ensure!(
        metrics.status == 200,
        "/metrics answered {}",
        metrics.status
    );
    anyhow::ensure!(
        metrics.body.contains(&format!("# TYPE {own_metric} ")),
        "/metrics lacks {own_metric}:\n{}",
        metrics.body
    );
    anyhow::ensure!(
        metrics.body.trim_end().ends_with("# EOF"),
        "not OpenMetrics text"
    );
    Ok(metrics.body)
}
