//! ClickHouse from the system package, with a generated config: the stock `config.xml` and
//! `users.xml` with paths, ports and listen host replaced; for a member of a cluster also its
//! `remote_servers`, `zookeeper`, `macros` and `distributed_ddl` path (see `config`).

mod config;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use config::write_config;
pub use config::{ClickHousePorts, ClusterMember};

use crate::process::{self, Options, Process};
use crate::{http, install, is_identifier};

/// A running ClickHouse server.
#[derive(Debug)]
pub struct ClickHouse {
    process: Process,
    ports: ClickHousePorts,
    dir: PathBuf,
    log: PathBuf,
    /// The `default` user's password; none for the tests' servers (loopback only).
    password: Option<String>,
}

impl ClickHouse {
    /// Starts a server with data, config and logs under `dir`.
    pub fn start(dir: &Path, ports: ClickHousePorts) -> anyhow::Result<Self> {
        Self::start_member(dir, ports, None)
    }

    /// [`Self::start`] with `password` for every user of the stock `users.xml`, as a server
    /// that others could reach would need.
    pub fn start_with_password(
        dir: &Path,
        ports: ClickHousePorts,
        password: &str,
    ) -> anyhow::Result<Self> {
        Self::start_as(dir, ports, None, Some(password.to_owned()))
    }

    /// [`Self::start`] for a server that is `member` of a cluster (alone when `None`), once its
    /// ZooKeeper session works. ClickHouse 18.16's DDL worker dies with a segmentation fault
    /// when its first ZooKeeper handshake fails, which a loaded machine's ZooKeeper sometimes
    /// drops: such a member is started again, up to three times.
    pub fn start_member(
        dir: &Path,
        ports: ClickHousePorts,
        member: Option<&ClusterMember>,
    ) -> anyhow::Result<Self> {
        if member.is_none() {
            return Self::start_as(dir, ports, None, None);
        }
        let mut attempt = 1;
        loop {
            // Each attempt's error log of its own: a failed one's was printed below.
            let _ = std::fs::remove_file(dir.join("log/clickhouse-server.err.log"));
            let started = Self::start_as(dir, ports, member, None).and_then(|mut server| {
                server.wait_for_zookeeper()?;
                Ok(server)
            });
            match started {
                Err(err) if attempt < 3 => {
                    eprintln!("a cluster member did not come up ({err:#}); starting it again");
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    /// Waits until the server reads ZooKeeper, and fails if it exits meanwhile (stopped).
    pub(crate) fn wait_for_zookeeper(&mut self) -> anyhow::Result<()> {
        let errors = self.dir.join("log/clickhouse-server.err.log");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let reads = self
                .query("SELECT count() FROM system.zookeeper WHERE path = '/'")
                .is_ok();
            if let Some(status) = self.process.exit_status() {
                anyhow::bail!(
                    "clickhouse-server {} as it connected to ZooKeeper; its error log ends \
                     with:\n{}",
                    process::describe(status),
                    process::log_tail(&errors, 20)
                );
            }
            // The DDL worker logs its failed connection just before it crashes the server.
            let ddl_worker_failed =
                std::fs::read_to_string(&errors).is_ok_and(|log| log.contains("DDLWorker::run"));
            if ddl_worker_failed {
                self.stop();
                anyhow::bail!(
                    "clickhouse-server's DDL worker could not reach ZooKeeper; its error log ends \
                     with:\n{}",
                    process::log_tail(&errors, 20)
                );
            }
            if reads {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                self.stop();
                anyhow::bail!("clickhouse-server did not read ZooKeeper within 60 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn start_as(
        dir: &Path,
        ports: ClickHousePorts,
        member: Option<&ClusterMember>,
        password: Option<String>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("data"))?;
        write_config(dir, ports, member, password.as_deref())?;
        Self::launch(dir, ports, password)
    }

    /// Starts the server (stopped, or killed) again on its configuration, data and ports.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        *self = Self::launch(&self.dir.clone(), self.ports, self.password.clone())?;
        Ok(())
    }

    /// Runs clickhouse-server on the configuration written in `dir`, and waits until it answers.
    fn launch(
        dir: &Path,
        ports: ClickHousePorts,
        password: Option<String>,
    ) -> anyhow::Result<Self> {
        let bin = install::locate()
            .clickhouse_server
            .context("clickhouse-server not found; `cargo xtask up` installs it")?;
        let config = dir.join("config.xml");
        let log = dir.join("clickhouse-stdout.log");
        let mut command = Command::new(bin);
        command
            .arg(format!("--config-file={}", config.display()))
            .current_dir(dir);
        let process = Process::spawn(
            "clickhouse-server",
            command,
            &log,
            Options {
                stop_timeout: Duration::from_secs(30),
                ..Options::default()
            },
        )?;
        let mut server = Self {
            process,
            ports,
            dir: dir.to_owned(),
            log,
            password,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let port = self.ports.http;
        let errors = self.dir.join("log/clickhouse-server.err.log");
        self.process
            .wait_ready(
                "clickhouse to answer /ping",
                Duration::from_secs(90),
                &self.log,
                || http::get(port, "/ping", Duration::from_secs(2)).is_ok_and(|r| r.status == 200),
            )
            .with_context(|| {
                format!(
                    "its error log ends with:\n{}",
                    process::log_tail(&errors, 20)
                )
            })
    }

    pub fn http_port(&self) -> u16 {
        self.ports.http
    }

    /// Runs one statement and returns its text output.
    pub fn query(&self, sql: &str) -> anyhow::Result<String> {
        self.query_at("/", sql)
    }

    /// [`Self::query`] with `database` as the default database of the statement.
    pub fn query_in(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        self.query_at(&format!("/?database={database}"), sql)
    }

    fn query_at(&self, path: &str, sql: &str) -> anyhow::Result<String> {
        let credentials = self.password.as_ref().map(|password| {
            use base64::Engine as _;
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("default:{password}"));
            format!("Basic {encoded}")
        });
        let mut headers = vec![("content-type", "text/plain")];
        if let Some(credentials) = &credentials {
            headers.push(("authorization", credentials.as_str()));
        }
        let response = http::request_with_headers(
            self.ports.http,
            "POST",
            path,
            &headers,
            sql.as_bytes(),
            Duration::from_secs(60),
        )?;
        anyhow::ensure!(
            response.status == 200,
            "clickhouse answered {}: {}",
            response.status,
            response.body.trim()
        );
        Ok(response.body)
    }

    pub fn create_database(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            is_identifier(name),
            "database name {name:?} is not a plain identifier"
        );
        self.query(&format!("CREATE DATABASE IF NOT EXISTS {name}"))?;
        Ok(())
    }

    pub fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            is_identifier(name),
            "database name {name:?} is not a plain identifier"
        );
        self.query(&format!("DROP DATABASE IF EXISTS {name}"))?;
        Ok(())
    }

    pub fn process(&self) -> &Process {
        &self.process
    }

    pub fn process_mut(&mut self) -> &mut Process {
        &mut self.process
    }

    /// The server process itself, for the caller to stop when it chooses.
    pub fn into_process(self) -> Process {
        self.process
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }
}
