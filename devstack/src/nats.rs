//! nats-server with JetStream on file storage.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::process::{Options, Process};
use crate::{install, workspace_root};

/// A running nats-server.
#[derive(Debug)]
pub struct NatsServer {
    process: Process,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
}

impl NatsServer {
    /// Starts nats-server with `nats/nats-server.conf`, client port `port`, JetStream data
    /// under `dir/jetstream`, and waits until it accepts connections.
    pub fn start(dir: &Path, port: u16, monitor_port: Option<u16>) -> anyhow::Result<Self> {
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
            .args(["--addr", "127.0.0.1", "--port", &port.to_string()]);
        if let Some(monitor_port) = monitor_port {
            command.args(["--http_port", &monitor_port.to_string()]);
        }
        let process = Process::spawn("nats-server", command, &log, Options::default())?;
        let mut server = Self {
            process,
            port,
            dir: dir.to_owned(),
            log,
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

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
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
        *self = Self::start(&self.dir.clone(), self.port, monitor)?;
        Ok(())
    }
}
