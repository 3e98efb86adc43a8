//! The servers tests run against: one ClickHouse and one PostgreSQL per test binary, a fresh
//! database on them per test (dropped with its handle), a private nats-server per test, servers
//! of a test's own for the tests that stop them, and temporary folders removed on drop (the
//! clusters are in `test_clusters`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;

use crate::clickhouse::{ClickHouse, ClickHousePorts};
use crate::nats::NatsServer;
use crate::ports::free_port;
use crate::postgres::{Postgres, PostgresOptions};

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
