//! Starts the services (auth, ingest, sink, query, edge) as processes from their cargo builds:
//! each with the environment it is given, its output in a log file of its own, and a probe that
//! says when it is up. `up` starts the whole stack with it and the bench its services.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use devstack::process::{self, Options, Process};

use crate::command::{Profile, cargo, run};

/// Where the services' binaries come from, where their logs go, and the environment all of them
/// get.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    profile: Profile,
    log_dir: PathBuf,
    env: Vec<(String, String)>,
}

/// One service to start: which binary, under what name, with what environment, and how to tell
/// that it is up.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    binary: String,
    name: String,
    env: Vec<(String, String)>,
    probe: Option<Probe>,
}

/// An HTTP path that answers 200 once the service is up (`/readyz`, or `/healthz` for a service
/// that is never ready while what it needs is missing).
#[derive(Debug, Clone)]
struct Probe {
    port: u16,
    path: String,
    timeout: Duration,
}

/// A started service; stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub(crate) struct Running {
    /// The name it was started under (the log file's stem).
    pub(crate) name: String,
    /// The port its probe asks, if it was given one.
    pub(crate) port: Option<u16>,
    /// `<log_dir>/<name>.log`: its stdout and stderr.
    pub(crate) log: PathBuf,
    pub(crate) process: Process,
}

impl Launcher {
    /// Binaries from `target/<profile>/`, logs in `log_dir` (created if missing).
    pub(crate) fn new(profile: Profile, log_dir: &Path) -> Self {
        Self {
            profile,
            log_dir: log_dir.to_owned(),
            env: Vec::new(),
        }
    }

    /// Sets `variable` for every service started after this (a service's own setting wins).
    pub(crate) fn env(mut self, variable: &str, value: impl Into<String>) -> Self {
        self.env.push((variable.to_owned(), value.into()));
        self
    }

    /// Builds the binaries of `services` in the launcher's profile, in one cargo run.
    pub(crate) fn build(&self, services: &[&str]) -> anyhow::Result<()> {
        let mut build = Command::new(cargo());
        build.current_dir(devstack::workspace_root()).arg("build");
        for service in services {
            build.args(["--package", service, "--bin", service]);
        }
        build.args(self.profile.cargo_flag());
        run(&mut build)
    }

    /// The path of `binary` in the launcher's profile.
    pub(crate) fn binary(&self, binary: &str) -> PathBuf {
        devstack::workspace_root()
            .join("target")
            .join(self.profile.dir())
            .join(binary)
    }

    /// Starts `service` and waits for its probe, if it has one.
    pub(crate) fn start(&self, service: Service) -> anyhow::Result<Running> {
        let probe = service.probe.clone();
        let mut running = self.spawn(service)?;
        if let Some(probe) = probe {
            running.wait(&probe)?;
        }
        Ok(running)
    }

    /// Starts every service at once, then waits for each probe in turn, so they come up side by
    /// side; on the first failure the ones started are stopped (dropped).
    pub(crate) fn start_all(&self, services: Vec<Service>) -> anyhow::Result<Vec<Running>> {
        let probes: Vec<Option<Probe>> = services.iter().map(|s| s.probe.clone()).collect();
        let mut running = services
            .into_iter()
            .map(|service| self.spawn(service))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (service, probe) in running.iter_mut().zip(probes) {
            if let Some(probe) = probe {
                service.wait(&probe)?;
            }
        }
        Ok(running)
    }

    fn spawn(&self, service: Service) -> anyhow::Result<Running> {
        std::fs::create_dir_all(&self.log_dir)?;
        let mut command = Command::new(self.binary(&service.binary));
        command.envs(self.env.iter().chain(&service.env).map(|(k, v)| (k, v)));
        let log = self.log_dir.join(format!("{}.log", service.name));
        let process = Process::spawn(&service.name, command, &log, Options::default())?;
        Ok(Running {
            port: service.probe.as_ref().map(|probe| probe.port),
            name: service.name,
            log,
            process,
        })
    }
}

impl Service {
    /// The binary `binary` (`auth`, `ingest`, `sink`, `query` or `edge`), named after it.
    pub(crate) fn new(binary: &str) -> Self {
        Self {
            binary: binary.to_owned(),
            name: binary.to_owned(),
            env: Vec::new(),
            probe: None,
        }
    }

    /// Another name, for the log file and messages (two edges in one folder, say).
    pub(crate) fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Sets `variable` for this service.
    pub(crate) fn env(mut self, variable: &str, value: impl Into<String>) -> Self {
        self.env.push((variable.to_owned(), value.into()));
        self
    }

    /// Sets each `(variable, value)` for this service.
    pub(crate) fn envs<'a>(mut self, env: impl IntoIterator<Item = &'a (&'a str, String)>) -> Self {
        self.env
            .extend(env.into_iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        self
    }

    /// The service is up once `GET 127.0.0.1:<port><path>` answers 200, within `timeout`.
    pub(crate) fn ready_at(mut self, port: u16, path: &str, timeout: Duration) -> Self {
        self.probe = Some(Probe {
            port,
            path: path.to_owned(),
            timeout,
        });
        self
    }
}

impl Running {
    fn wait(&mut self, probe: &Probe) -> anyhow::Result<()> {
        let what = format!("{} {}", self.name, probe.path);
        self.process
            .wait_ready(&what, probe.timeout, &self.log, || {
                devstack::http::get(probe.port, &probe.path, Duration::from_secs(3))
                    .is_ok_and(|r| r.status == 200)
            })
    }

    /// If the service has exited on its own: how, and the end of its log.
    pub(crate) fn exited(&mut self) -> Option<String> {
        let status = self.process.exit_status()?;
        Some(format!(
            "{} {}; its log ends with:\n{}",
            self.name,
            process::describe(status),
            process::log_tail(&self.log, 20)
        ))
    }

    /// SIGTERM, then SIGKILL if it has not exited in time.
    pub(crate) fn stop(&mut self) {
        self.process.stop();
    }
}

/// Stops `services` last first (the reverse of their start order).
pub(crate) fn stop_all(mut services: Vec<Running>, mut stopped: impl FnMut(&str)) {
    while let Some(mut service) = services.pop() {
        service.stop();
        stopped(&service.name);
    }
}
