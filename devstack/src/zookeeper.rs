//! ZooKeeper from the system package (Debian's `zookeeper`, 3.8, on a headless JRE), standalone
//! on a chosen port with its data in a folder of its own: what replicated ClickHouse tables and
//! `ON CLUSTER` DDL need on ClickHouse 18.16, which has no built-in Keeper.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::install;
use crate::process::{Options, Process};

/// A running standalone ZooKeeper.
#[derive(Debug)]
pub struct ZooKeeper {
    process: Process,
    port: u16,
}

impl ZooKeeper {
    /// Starts ZooKeeper with its config, data and log under `dir`, clients on 127.0.0.1:`port`,
    /// and waits until it serves clients (its `srvr` report names its mode).
    pub fn start(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let tools = install::locate();
        let jar = tools
            .zookeeper_jar
            .context("ZooKeeper not found; `cargo xtask install` installs it (apt: zookeeper)")?;
        let java = tools
            .java
            .context("java not found (apt: default-jre-headless)")?;
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let config = dir.join("zoo.cfg");
        // A short tick: sessions and elections in tests settle in a second, not in six.
        std::fs::write(
            &config,
            format!(
                "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
                 clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n\
                 4lw.commands.whitelist=srvr\n",
                data.display()
            ),
        )?;
        let log = dir.join("zookeeper.log");
        let mut command = Command::new(java);
        command
            .arg("-Xmx256m")
            .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
            .arg("-cp")
            .arg(classpath(&jar, dir))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&config)
            .current_dir(dir);
        let mut process = Process::spawn("zookeeper", command, &log, Options::default())?;
        process.wait_ready(
            "zookeeper to serve clients",
            Duration::from_secs(60),
            &log,
            || serving(port),
        )?;
        Ok(Self { process, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn process(&self) -> &Process {
        &self.process
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// The jar (its manifest names the libraries it needs) and the config folder, for log4j.
fn classpath(jar: &Path, dir: &Path) -> std::ffi::OsString {
    let mut classpath = jar.as_os_str().to_owned();
    classpath.push(":");
    classpath.push(dir.as_os_str());
    classpath
}

/// Whether ZooKeeper serves clients: its four-letter `srvr` report names its mode. `ruok`
/// answers `imok` as soon as the port is open, while the server still closes every client's
/// connection at the handshake until it has loaded its data; ClickHouse 18.16 dies when that
/// happens to its first connection.
fn serving(port: u16) -> bool {
    let answer = || -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"srvr")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    };
    answer().is_ok_and(|text| text.contains("Mode: "))
}
