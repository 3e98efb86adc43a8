//! The release services as the bench runs them, started with `up`'s launcher: each on free
//! ports, its log in a folder of the run's, with no per-user or per-project limits (the bench
//! measures capacity, not policy).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use devstack::ports::free_port;
use devstack::postgres::{Postgres, PostgresOptions};
use devstack::process::Process;
use devstack::test::TempDir;

use crate::command::{Profile, run};
use crate::launcher::{Launcher, Running, Service};

/// How long a service may take to answer its probe.
pub(crate) const READY: Duration = Duration::from_secs(60);

/// The launcher of the release builds, with logs in `dir` and `RUST_LOG=warn` (a service's
/// own setting wins).
pub(crate) fn launcher(dir: &Path) -> Launcher {
    Launcher::new(Profile::Release, dir).env("RUST_LOG", "warn")
}

/// Starts `service` from its release build, its log in `<dir>/<name>.log`, and waits for its
/// probe if it has one.
pub(crate) fn start(dir: &Path, service: Service) -> anyhow::Result<Running> {
    launcher(dir).start(service)
}

/// The release edge on `port` in front of auth, ingest and query on theirs (9, the discard
/// port, for one not running), with no per-user rate limit; waits for liveness, since edge is
/// never ready while a service behind it is missing.
pub(crate) fn start_edge(
    dir: &TempDir,
    name: &str,
    port: u16,
    auth_port: u16,
    ingest_port: u16,
    query_port: u16,
) -> anyhow::Result<Running> {
    let ui = devstack::workspace_root().join("ui/dist");
    let env = [
        ("API_GATEWAY_PORT", port.to_string()),
        // Its internal listener too, so it never meets another edge's (or `up`'s) on 8005.
        ("EDGE_METRICS_PORT", free_port()?.to_string()),
        ("AUTH_URL", format!("http://127.0.0.1:{auth_port}")),
        ("INGEST_URL", format!("http://127.0.0.1:{ingest_port}")),
        ("QUERY_URL", format!("http://127.0.0.1:{query_port}")),
        ("UI_DIR", ui.display().to_string()),
        // The bench measures capacity and latency, not the per-user policy.
        ("API_REQUESTS_PER_MINUTE_PER_USER", "0".to_owned()),
    ];
    let edge = Service::new("edge")
        .name(name)
        .envs(&env)
        .ready_at(port, "/healthz", READY);
    start(dir.path(), edge)
}

/// The release auth on a free port, with a Postgres of its own in `dir`, signing keys, and
/// the extra environment `env`.
pub(crate) struct BenchAuth {
    pub(crate) service: Running,
    pub(crate) port: u16,
    _postgres: Postgres,
}

impl BenchAuth {
    pub(crate) fn start(dir: &Path, nats_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let launcher = launcher(dir);
        let postgres = Postgres::start(PostgresOptions {
            dir: dir.join("postgres"),
            port: free_port()?,
            password: "bench-password".to_owned(),
            ephemeral: false,
        })?;
        postgres.create_database("bench")?;
        let keys = dir.join("signing-keys");
        run(Command::new(launcher.binary("auth"))
            .args(["keys", "add"])
            .arg(&keys))?;
        let port = free_port()?;
        let settings = [
            ("AUTH_PORT", port.to_string()),
            ("NATS_URL", nats_url.to_owned()),
            ("POSTGRES_PORT", postgres.port().to_string()),
            ("POSTGRES_DB", "bench".to_owned()),
            ("POSTGRES_PASSWORD", postgres.password().to_owned()),
            ("AUTH_SIGNING_KEYS_FILE", keys.display().to_string()),
        ];
        let extra: Vec<(&str, String)> = env
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        let auth = Service::new("auth")
            .envs(&settings)
            .envs(&extra)
            .ready_at(port, "/readyz", READY);
        Ok(Self {
            service: launcher.start(auth)?,
            port,
            _postgres: postgres,
        })
    }
}

/// The CPU seconds `process` has used so far; 0 once it has exited.
pub(crate) fn cpu_seconds(process: &Process) -> f64 {
    process.cpu_seconds().unwrap_or(0.0)
}

/// Peak resident memory of a running process (`VmHWM`), MiB; 0 once it has exited.
pub(crate) fn peak_rss_mib(process: &Process) -> f64 {
    devstack::process::proc_kib(&format!("/proc/{}/status", process.pid()), "VmHWM:")
        .map_or(0.0, |kib| kib / 1024.0)
}
