//! ClickHouse from the system package, with a generated config: the stock `config.xml` and
//! `users.xml` with paths, ports and listen host replaced; for a member of a cluster also its
//! `remote_servers`, `zookeeper`, `macros` and `distributed_ddl` path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::process::{self, Options, Process};
use crate::{http, install, is_identifier};

/// Where the stock configuration of the system package lives.
const STOCK_CONFIG_DIR: &str = "/etc/clickhouse-server";

/// Ports of one server.
#[derive(Debug, Clone, Copy)]
pub struct ClickHousePorts {
    pub http: u16,
    pub tcp: u16,
    pub interserver: u16,
}

/// The place of one server in a cluster of shards with one replica each, all on 127.0.0.1.
#[derive(Debug, Clone)]
pub struct ClusterMember {
    /// The cluster's name in `remote_servers`.
    pub cluster: String,
    /// The TCP (native protocol) port of each shard's server, in shard order.
    pub shard_tcp_ports: Vec<u16>,
    /// Which shard this server is (from 1), its `{shard}` macro.
    pub shard: usize,
    /// The ZooKeeper every member shares.
    pub zookeeper_port: u16,
}

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

    /// [`Self::start`] for a server that is `member` of a cluster (alone when `None`).
    pub fn start_member(
        dir: &Path,
        ports: ClickHousePorts,
        member: Option<&ClusterMember>,
    ) -> anyhow::Result<Self> {
        Self::start_as(dir, ports, member, None)
    }

    fn start_as(
        dir: &Path,
        ports: ClickHousePorts,
        member: Option<&ClusterMember>,
        password: Option<String>,
    ) -> anyhow::Result<Self> {
        let bin = install::locate()
            .clickhouse_server
            .context("clickhouse-server not found; `cargo xtask up` installs it")?;
        std::fs::create_dir_all(dir.join("data"))?;
        let config = write_config(dir, ports, member, password.as_deref())?;
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

/// Writes `dir/config.xml` and `dir/users.xml` from the stock files.
fn write_config(
    dir: &Path,
    ports: ClickHousePorts,
    member: Option<&ClusterMember>,
    password: Option<&str>,
) -> anyhow::Result<PathBuf> {
    let stock = Path::new(STOCK_CONFIG_DIR);
    let config = std::fs::read_to_string(stock.join("config.xml")).with_context(|| {
        format!(
            "reading {STOCK_CONFIG_DIR}/config.xml (installed with the clickhouse-server package)"
        )
    })?;
    let users = std::fs::read_to_string(stock.join("users.xml"))
        .with_context(|| format!("reading {STOCK_CONFIG_DIR}/users.xml"))?;
    let data = format!("{}/", dir.join("data").display());
    let logs = dir.join("log");
    let mut replacements = vec![
        (
            "<http_port>8123</http_port>",
            format!("<http_port>{}</http_port>", ports.http),
        ),
        (
            "<tcp_port>9000</tcp_port>",
            format!("<tcp_port>{}</tcp_port>", ports.tcp),
        ),
        (
            "<interserver_http_port>9009</interserver_http_port>",
            format!(
                "<interserver_http_port>{}</interserver_http_port>",
                ports.interserver
            ),
        ),
        (
            "<path>/var/lib/clickhouse/</path>",
            format!("<path>{data}</path>"),
        ),
        (
            "<tmp_path>/var/lib/clickhouse/tmp/</tmp_path>",
            format!("<tmp_path>{data}tmp/</tmp_path>"),
        ),
        (
            "<user_files_path>/var/lib/clickhouse/user_files/</user_files_path>",
            format!("<user_files_path>{data}user_files/</user_files_path>"),
        ),
        (
            "<format_schema_path>/var/lib/clickhouse/format_schemas/</format_schema_path>",
            format!("<format_schema_path>{data}format_schemas/</format_schema_path>"),
        ),
        (
            "/var/log/clickhouse-server/clickhouse-server.log",
            logs.join("clickhouse-server.log").display().to_string(),
        ),
        (
            "/var/log/clickhouse-server/clickhouse-server.err.log",
            logs.join("clickhouse-server.err.log").display().to_string(),
        ),
        // Loopback only, IPv4 only: not every machine has ::1.
        ("<listen_host>::1</listen_host>", String::new()),
        (
            "<listen_host>127.0.0.1</listen_host>",
            "<listen_host>127.0.0.1</listen_host>".to_owned(),
        ),
    ];
    if let Some(member) = member {
        replacements.extend(cluster_replacements(member)?);
    }
    let mut generated = config;
    for (stock_text, ours) in replacements {
        anyhow::ensure!(
            generated.contains(stock_text),
            "{STOCK_CONFIG_DIR}/config.xml has no `{stock_text}`; this ClickHouse version's config is not supported"
        );
        generated = generated.replace(stock_text, &ours);
    }
    std::fs::create_dir_all(&logs)?;
    let config_path = dir.join("config.xml");
    std::fs::write(&config_path, generated)?;
    let users = match password {
        Some(password) => with_password(&users, password)?,
        None => users,
    };
    std::fs::write(dir.join("users.xml"), allow_low_cardinality(&users)?)?;
    Ok(config_path)
}

/// `users` with `password` for every user (the stock file leaves them empty).
fn with_password(users: &str, password: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        users.contains("<password></password>"),
        "{STOCK_CONFIG_DIR}/users.xml has no empty <password>; this ClickHouse version's users are not supported"
    );
    let escaped = password
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Ok(users.replace(
        "<password></password>",
        &format!("<password>{escaped}</password>"),
    ))
}

/// `users` with `LowCardinality` columns allowed in the default profile, on a server of the
/// `<yandex>` configuration era (ClickHouse 18.x, where the type was experimental; the 19 to 21
/// servers of that era accept the setting as obsolete). Sent with a query, the setting reaches
/// the server that receives it but not the `ON CLUSTER` DDL its shards run, so the profile is
/// where a cluster's servers get it. Newer servers refuse it, and need nothing.
fn allow_low_cardinality(users: &str) -> anyhow::Result<String> {
    if !users.contains("<yandex>") {
        return Ok(users.to_owned());
    }
    let profile = users
        .find("<profiles>")
        .and_then(|at| users[at..].find("<default>").map(|offset| at + offset))
        .context("users.xml has no default profile")?
        + "<default>".len();
    Ok(format!(
        "{}\n            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>{}",
        &users[..profile],
        &users[profile..]
    ))
}

/// What makes a server `member` of its cluster: the cluster among the `remote_servers` (each
/// shard with `internal_replication`, which replicated tables behind a `Distributed` table and
/// `ALTER … ON CLUSTER` require), ZooKeeper, the `{shard}` and `{replica}` macros, a DDL queue
/// of the cluster's own, and the loopback address as the host replicas fetch parts from.
fn cluster_replacements(member: &ClusterMember) -> anyhow::Result<Vec<(&'static str, String)>> {
    anyhow::ensure!(
        is_identifier(&member.cluster),
        "cluster name {:?} is not a plain identifier",
        member.cluster
    );
    let shards: String = member
        .shard_tcp_ports
        .iter()
        .map(|port| {
            format!(
                "<shard><internal_replication>true</internal_replication><replica>\
                 <host>127.0.0.1</host><port>{port}</port></replica></shard>"
            )
        })
        .collect();
    let name = &member.cluster;
    Ok(vec![
        (
            "<remote_servers incl=\"clickhouse_remote_servers\" >",
            format!("<remote_servers>\n        <{name}>{shards}</{name}>"),
        ),
        (
            "<zookeeper incl=\"zookeeper-servers\" optional=\"true\" />",
            format!(
                "<zookeeper><node><host>127.0.0.1</host><port>{}</port></node>\
                 <session_timeout_ms>30000</session_timeout_ms></zookeeper>",
                member.zookeeper_port
            ),
        ),
        (
            "<macros incl=\"macros\" optional=\"true\" />",
            format!(
                "<macros><shard>{shard}</shard><replica>replica_{shard}</replica></macros>",
                shard = member.shard
            ),
        ),
        (
            "<path>/clickhouse/task_queue/ddl</path>",
            format!("<path>/clickhouse/{name}/task_queue/ddl</path>"),
        ),
        (
            "<!-- Listen specified host.",
            "<interserver_http_host>127.0.0.1</interserver_http_host>\n    \
             <!-- Listen specified host."
                .to_owned(),
        ),
    ])
}
