//! The generated configuration of one server: the stock `config.xml` and `users.xml` of the
//! system package with paths, ports and listen host replaced, a password if asked, and for a
//! member of a cluster its shards, ZooKeeper and macros.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::is_identifier;

/// Where the stock configuration of the system package lives.
const STOCK_CONFIG_DIR: &str = "/etc/clickhouse-server";

/// Ports of one server.
#[derive(Debug, Clone, Copy)]
pub struct ClickHousePorts {
    pub http: u16,
    pub tcp: u16,
    pub interserver: u16,
}

/// The place of one server in a cluster of shards, each with one or more replicas, all on
/// 127.0.0.1.
#[derive(Debug, Clone)]
pub struct ClusterMember {
    /// The cluster's name in `remote_servers`.
    pub cluster: String,
    /// The TCP (native protocol) ports of each shard's replicas, in shard order.
    pub shards: Vec<Vec<u16>>,
    /// Which shard this server is (from 1), its `{shard}` macro.
    pub shard: usize,
    /// Which replica of its shard this server is (from 1), in its `{replica}` macro.
    pub replica: usize,
    /// The ZooKeeper every member shares.
    pub zookeeper_port: u16,
}

/// Writes `dir/config.xml` and `dir/users.xml` from the stock files.
pub(super) fn write_config(
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
    let logs = dir.join("log");
    let mut replacements = stock_replacements(dir, &logs, ports);
    if let Some(member) = member {
        replacements.extend(cluster_replacements(member)?);
    }
    let generated = replace_all(config, replacements)?;
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

/// What the stock `config.xml` says about ports, folders and listening addresses, and what the
/// server in `dir` gets instead (its data under `dir/data`, its logs in `logs`).
fn stock_replacements(
    dir: &Path,
    logs: &Path,
    ports: ClickHousePorts,
) -> Vec<(&'static str, String)> {
    let data = format!("{}/", dir.join("data").display());
    vec![
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
    ]
}

/// `config` with each stock text replaced by ours; a stock text that is missing means a
/// ClickHouse whose config this code does not know.
fn replace_all(
    config: String,
    replacements: Vec<(&'static str, String)>,
) -> anyhow::Result<String> {
    let mut generated = config;
    for (stock_text, ours) in replacements {
        anyhow::ensure!(
            generated.contains(stock_text),
            "{STOCK_CONFIG_DIR}/config.xml has no `{stock_text}`; this ClickHouse version's config is not supported"
        );
        generated = generated.replace(stock_text, &ours);
    }
    Ok(generated)
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
        .shards
        .iter()
        .map(|replicas| {
            let replicas: String = replicas
                .iter()
                .map(|port| format!("<replica><host>127.0.0.1</host><port>{port}</port></replica>"))
                .collect();
            format!("<shard><internal_replication>true</internal_replication>{replicas}</shard>")
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
                "<macros><shard>{shard}</shard><replica>replica_{shard}_{replica}</replica></macros>",
                shard = member.shard,
                replica = member.replica
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
