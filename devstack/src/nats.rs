//! nats-server with JetStream on file storage, every client signing in as its own user
//! (`nats/nats-server.conf` lists them and what each may do).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::process::{Options, Process};
use crate::{install, workspace_root};

/// The users of `nats/nats-server.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatsUser {
    /// The `nats` CLI: may do everything.
    Operator,
    Auth,
    Ingest,
    Sink,
    Query,
}

impl NatsUser {
    pub const ALL: [NatsUser; 5] = [
        NatsUser::Operator,
        NatsUser::Auth,
        NatsUser::Ingest,
        NatsUser::Sink,
        NatsUser::Query,
    ];

    /// The user name in the server's configuration.
    pub fn name(self) -> &'static str {
        match self {
            NatsUser::Operator => "operator",
            NatsUser::Auth => "auth",
            NatsUser::Ingest => "ingest",
            NatsUser::Sink => "sink",
            NatsUser::Query => "query",
        }
    }

    /// The environment variable the server reads the user's password from.
    pub fn password_variable(self) -> &'static str {
        match self {
            NatsUser::Operator => "NATS_OPERATOR_PASSWORD",
            NatsUser::Auth => "NATS_AUTH_PASSWORD",
            NatsUser::Ingest => "NATS_INGEST_PASSWORD",
            NatsUser::Sink => "NATS_SINK_PASSWORD",
            NatsUser::Query => "NATS_QUERY_PASSWORD",
        }
    }
}

/// Every user's password.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsPasswords(Vec<(NatsUser, String)>);

impl std::fmt::Debug for NatsPasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NatsPasswords(..)")
    }
}

impl NatsPasswords {
    /// New random passwords (244 bits each, URL-safe).
    pub fn generate() -> Self {
        Self(
            NatsUser::ALL
                .iter()
                .map(|user| (*user, crate::secret()))
                .collect(),
        )
    }

    /// The passwords named by `password`, e.g. kept in a secrets file.
    pub fn from_fn(mut password: impl FnMut(NatsUser) -> String) -> Self {
        Self(
            NatsUser::ALL
                .iter()
                .map(|user| (*user, password(*user)))
                .collect(),
        )
    }

    pub fn of(&self, user: NatsUser) -> &str {
        self.0
            .iter()
            .find(|(u, _)| *u == user)
            .map(|(_, password)| password.as_str())
            .unwrap_or_default()
    }

    /// The variables the server reads them from.
    pub fn environment(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(user, password)| (user.password_variable(), password.as_str()))
    }
}

/// The place of one nats-server in a cluster of servers on 127.0.0.1: its name, its route port
/// and every member's route port (its own among them; the server skips itself).
#[derive(Debug, Clone)]
pub struct ClusterNode {
    /// The cluster's name, the same on every member.
    pub cluster: String,
    /// This server's name (JetStream's Raft groups tell members apart by it).
    pub name: String,
    pub route_port: u16,
    pub route_ports: Vec<u16>,
}

/// A running nats-server.
#[derive(Debug)]
pub struct NatsServer {
    process: Process,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
    passwords: NatsPasswords,
    node: Option<ClusterNode>,
}

impl NatsServer {
    /// Starts nats-server with `nats/nats-server.conf` and its users' `passwords`, client port
    /// `port`, JetStream data under `dir/jetstream`, and waits until it accepts connections.
    pub fn start(
        dir: &Path,
        port: u16,
        monitor_port: Option<u16>,
        passwords: NatsPasswords,
    ) -> anyhow::Result<Self> {
        Self::start_node(dir, port, monitor_port, passwords, None)
    }

    /// [`Self::start`], as `node` of a cluster when given (it accepts clients before the
    /// cluster has formed).
    pub fn start_node(
        dir: &Path,
        port: u16,
        monitor_port: Option<u16>,
        passwords: NatsPasswords,
        node: Option<ClusterNode>,
    ) -> anyhow::Result<Self> {
        let bin = install::locate().nats_server.context(
            "nats-server 2.14+ not found; `cargo xtask up` or `cargo xtask test` installs it",
        )?;
        std::fs::create_dir_all(dir)?;
        let log = dir.join("nats-server.log");
        let mut command = Command::new(bin);
        command
            .arg("--config")
            .arg(workspace_root().join("nats/nats-server.conf"))
            .arg("--jetstream")
            .arg("--store_dir")
            .arg(dir.join("jetstream"))
            .args(["--addr", "127.0.0.1", "--port", &port.to_string()])
            .envs(passwords.environment())
            .envs(go_gc());
        if let Some(monitor_port) = monitor_port {
            command.args(["--http_port", &monitor_port.to_string()]);
        }
        if let Some(node) = &node {
            let routes: Vec<String> = node
                .route_ports
                .iter()
                .map(|port| format!("nats://127.0.0.1:{port}"))
                .collect();
            command
                .args(["--name", &node.name, "--cluster_name", &node.cluster])
                .args([
                    "--cluster",
                    &format!("nats://127.0.0.1:{}", node.route_port),
                ])
                .args(["--routes", &routes.join(",")]);
        }
        let process = Process::spawn("nats-server", command, &log, Options::default())?;
        let mut server = Self {
            process,
            port,
            dir: dir.to_owned(),
            log,
            passwords,
            node,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let port = self.port;
        self.process.wait_ready(
            "nats-server to accept connections",
            Duration::from_secs(30),
            &self.log,
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        )
    }

    /// The operator's URL, `nats://operator:<password>@127.0.0.1:<port>`: may do everything.
    pub fn url(&self) -> String {
        self.url_for(NatsUser::Operator)
    }

    /// `user`'s URL, `nats://<user>:<password>@127.0.0.1:<port>`.
    pub fn url_for(&self, user: NatsUser) -> String {
        format!(
            "nats://{}:{}@127.0.0.1:{}",
            user.name(),
            self.passwords.of(user),
            self.port
        )
    }

    /// `nats://127.0.0.1:<port>`, with no user: the server refuses it.
    pub fn anonymous_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where its data and log live.
    pub fn dir(&self) -> &Path {
        &self.dir
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

    /// Stops the server (orderly, then killed after a timeout).
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let monitor = None;
        *self = Self::start_node(
            &self.dir.clone(),
            self.port,
            monitor,
            self.passwords.clone(),
            self.node.clone(),
        )?;
        Ok(())
    }
}

/// The Go garbage collector's settings nats-server runs with here (`cargo xtask up`, the tests
/// and the bench): a soft memory limit of 1 GiB (`NATS_GOMEMLIMIT` overrides it), room for what
/// a minute of duplicate-window message ids and the file store's buffers hold live at the
/// bench's rates, which makes the collector run as often as it must only once the heap nears
/// it; and `GOGC` 200 (`NATS_GOGC`): below the limit, a collection each time the heap grows to
/// three times what was live instead of two, half as many marks of the live heap competing
/// with requests for the two cores. docs/configuration.md says why.
fn go_gc() -> [(&'static str, String); 2] {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    [
        ("GOMEMLIMIT", var("NATS_GOMEMLIMIT", "1GiB")),
        ("GOGC", var("NATS_GOGC", "200")),
    ]
}
