//! `cargo xtask up`: the whole product on this machine, no Docker. Data lives under `.data/`
//! and survives restarts; Ctrl-C or SIGTERM stops every process we started, services first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use devstack::clickhouse::{ClickHouse, ClickHousePorts};
use devstack::install::Need;
use devstack::nats::{NatsServer, NatsUser};
use devstack::ports::ensure_free;
use devstack::postgres::{Postgres, PostgresOptions};
use devstack::process::{self, Options, Process};

use crate::secrets::{Secrets, write_private};
use crate::{Profile, cargo, run};

/// A port of the stack: what uses it, the variable that moves it, its default.
struct Port {
    what: &'static str,
    variable: &'static str,
    default: u16,
}

const PORTS: &[Port] = &[
    Port {
        what: "edge (public)",
        variable: "API_GATEWAY_PORT",
        default: 8000,
    },
    Port {
        what: "edge (metrics, internal)",
        variable: "EDGE_METRICS_PORT",
        default: 8005,
    },
    Port {
        what: "ingest",
        variable: "INGEST_PORT",
        default: 8001,
    },
    Port {
        what: "auth",
        variable: "AUTH_PORT",
        default: 8002,
    },
    Port {
        what: "query",
        variable: "QUERY_PORT",
        default: 8003,
    },
    Port {
        what: "sink",
        variable: "SINK_PORT",
        default: 8004,
    },
    Port {
        what: "NATS",
        variable: "NATS_PORT",
        default: 4222,
    },
    Port {
        what: "NATS monitoring",
        variable: "NATS_MONITOR_PORT",
        default: 8222,
    },
    Port {
        what: "PostgreSQL",
        variable: "POSTGRES_PORT",
        default: 5432,
    },
    Port {
        what: "ClickHouse HTTP",
        variable: "CLICKHOUSE_PORT",
        default: 8123,
    },
    Port {
        what: "ClickHouse native",
        variable: "CLICKHOUSE_TCP_PORT",
        default: 9000,
    },
    Port {
        what: "ClickHouse interserver",
        variable: "CLICKHOUSE_INTERSERVER_PORT",
        default: 9009,
    },
];

fn port(variable: &str) -> anyhow::Result<u16> {
    let default = PORTS
        .iter()
        .find(|p| p.variable == variable)
        .map(|p| p.default)
        .context("unknown port variable")?;
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .with_context(|| format!("environment variable {variable}: {value:?} is not a port")),
        _ => Ok(default),
    }
}

fn env_or(variable: &str, default: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The five services, in start order (edge last, since it checks the others).
const SERVICES: &[(&str, &str)] = &[
    ("ingest", "INGEST_PORT"),
    ("sink", "SINK_PORT"),
    ("auth", "AUTH_PORT"),
    ("query", "QUERY_PORT"),
    ("edge", "API_GATEWAY_PORT"),
];

/// The first admin `up` creates: `ADMIN_EMAIL` and `ADMIN_PASSWORD`, or their defaults.
/// Where the local stack keeps its data.
fn data_dir() -> PathBuf {
    devstack::workspace_root().join(".data")
}

/// The local stack's secrets (see [`Secrets`]).
fn secrets() -> anyhow::Result<Secrets> {
    Secrets::load(&data_dir(), |name| std::env::var(name).ok())
}

/// The first admin's address and password.
fn admin() -> anyhow::Result<(String, String)> {
    let secrets = secrets()?;
    Ok((
        secrets.get("ADMIN_EMAIL").to_owned(),
        secrets.get("ADMIN_PASSWORD").to_owned(),
    ))
}

/// The NATS user each service connects as; edge does not use NATS.
fn nats_user(service: &str) -> Option<NatsUser> {
    match service {
        "auth" => Some(NatsUser::Auth),
        "ingest" => Some(NatsUser::Ingest),
        "sink" => Some(NatsUser::Sink),
        "query" => Some(NatsUser::Query),
        _ => None,
    }
}

/// What `demo` sends, and where, unless told otherwise: the `up` stack's edge and first admin.
pub fn demo_options() -> anyhow::Result<xtask::demo::Options> {
    let (email, password) = admin()?;
    Ok(xtask::demo::Options {
        url: format!("http://127.0.0.1:{}", port("API_GATEWAY_PORT")?),
        email,
        password: plumbing::config::Secret::new(password),
        plan: xtask::demo::Plan::default(),
        batch_size: 500,
        progress: true,
    })
}

/// Starts the stack and keeps it running until Ctrl-C; with `demo`, sends it the demo traffic
/// once it is ready.
pub fn up(profile: Profile, demo: bool) -> anyhow::Result<()> {
    let root = devstack::workspace_root();
    devstack::install::ensure(&[Need::Nats, Need::Postgres, Need::ClickHouse, Need::Wasm])?;
    for p in PORTS {
        ensure_free(port(p.variable)?, p.what, p.variable)?;
    }

    let ui_dir = crate::ui::build(profile)?;
    eprintln!("building the services ({})", profile.dir());
    let mut build = Command::new(cargo());
    build.current_dir(&root).arg("build");
    for (service, _) in SERVICES {
        build.args(["--package", service, "--bin", service]);
    }
    build.args(profile.cargo_flag());
    run(&mut build)?;

    let bin_dir = root.join("target").join(profile.dir());
    let data = data_dir();
    let logs = data.join("logs");
    std::fs::create_dir_all(&logs)?;
    let secrets = secrets()?;
    let postgres_password = secrets.get("POSTGRES_PASSWORD").to_owned();
    let postgres_db = env_or("POSTGRES_DB", "analytics_auth");
    let clickhouse_db = env_or("CLICKHOUSE_DB", "analytics");

    eprintln!(
        "starting NATS, PostgreSQL and ClickHouse under {}",
        data.display()
    );
    let nats = NatsServer::start(
        &data.join("nats"),
        port("NATS_PORT")?,
        Some(port("NATS_MONITOR_PORT")?),
        secrets.nats(),
    )?;
    let operator_url = data.join("nats/operator-url");
    write_private(&operator_url, &format!("{}\n", nats.url()))?;
    let postgres = Postgres::start(PostgresOptions {
        dir: data.join("postgres"),
        port: port("POSTGRES_PORT")?,
        password: postgres_password.clone(),
        ephemeral: false,
    })?;
    postgres.create_database(&postgres_db)?;
    let clickhouse = ClickHouse::start_with_password(
        &data.join("clickhouse"),
        ClickHousePorts {
            http: port("CLICKHOUSE_PORT")?,
            tcp: port("CLICKHOUSE_TCP_PORT")?,
            interserver: port("CLICKHOUSE_INTERSERVER_PORT")?,
        },
        secrets.get("CLICKHOUSE_PASSWORD"),
    )?;

    // The token signing key is generated once and kept, so sessions survive a restart.
    let signing_keys = data.join("auth/signing-keys");
    if !signing_keys.exists() {
        run(Command::new(bin_dir.join("auth"))
            .args(["keys", "add"])
            .arg(&signing_keys))?;
    }

    let admin_email = secrets.get("ADMIN_EMAIL").to_owned();

    let environment: Vec<(&str, String)> = vec![
        ("AUTH_SIGNING_KEYS_FILE", signing_keys.display().to_string()),
        ("ADMIN_EMAIL", admin_email.clone()),
        ("ADMIN_PASSWORD", secrets.get("ADMIN_PASSWORD").to_owned()),
        ("POSTGRES_HOST", "127.0.0.1".to_owned()),
        ("POSTGRES_PORT", postgres.port().to_string()),
        ("POSTGRES_DB", postgres_db.clone()),
        ("POSTGRES_USER", "postgres".to_owned()),
        ("POSTGRES_PASSWORD", postgres_password),
        ("CLICKHOUSE_HOST", "127.0.0.1".to_owned()),
        ("CLICKHOUSE_PORT", clickhouse.http_port().to_string()),
        ("CLICKHOUSE_DB", clickhouse_db.clone()),
        (
            "CLICKHOUSE_PASSWORD",
            secrets.get("CLICKHOUSE_PASSWORD").to_owned(),
        ),
        ("UI_DIR", ui_dir.display().to_string()),
        (
            "INGEST_URL",
            format!("http://127.0.0.1:{}", port("INGEST_PORT")?),
        ),
        (
            "AUTH_URL",
            format!("http://127.0.0.1:{}", port("AUTH_PORT")?),
        ),
        (
            "QUERY_URL",
            format!("http://127.0.0.1:{}", port("QUERY_PORT")?),
        ),
        (
            "SINK_URL",
            format!("http://127.0.0.1:{}", port("SINK_PORT")?),
        ),
    ];
    let mut services = Vec::new();
    for (service, port_variable) in SERVICES {
        let mut command = Command::new(bin_dir.join(service));
        command.envs(environment.iter().map(|(k, v)| (*k, v.as_str())));
        command.env(port_variable, port(port_variable)?.to_string());
        if let Some(user) = nats_user(service) {
            command.env("NATS_URL", nats.url_for(user));
        }
        let log = logs.join(format!("{service}.log"));
        services.push((
            *service,
            port(port_variable)?,
            log.clone(),
            Process::spawn(service, command, &log, Options::default())?,
        ));
    }

    for (service, service_port, log, process) in &mut services {
        wait_ready(service, *service_port, log, process)?;
    }

    println!();
    println!(
        "  {:<11} {}  (monitoring http://127.0.0.1:{}; the operator's URL with its password is in {})",
        "nats",
        nats.anonymous_url(),
        port("NATS_MONITOR_PORT")?,
        operator_url.display()
    );
    println!(
        "  {:<11} postgres://postgres@127.0.0.1:{}/{postgres_db}",
        "postgres",
        postgres.port()
    );
    println!(
        "  {:<11} http://127.0.0.1:{}  (database {clickhouse_db})",
        "clickhouse",
        clickhouse.http_port()
    );
    for (service, service_port, _, _) in &services {
        let note = if *service == "edge" {
            "  <- open this"
        } else {
            ""
        };
        println!("  {service:<11} http://127.0.0.1:{service_port}{note}");
    }
    println!();
    let secrets_file = data.join("secrets.env");
    if secrets.was_generated("ADMIN_PASSWORD") {
        println!(
            "first admin: {admin_email} / {} (shown once; kept in {})",
            secrets.get("ADMIN_PASSWORD"),
            secrets_file.display()
        );
    } else {
        println!(
            "first admin: {admin_email} (password: ADMIN_PASSWORD in {})",
            secrets_file.display()
        );
    }
    println!("logs in {}; Ctrl-C stops everything", logs.display());

    let demo = demo.then(demo_options).transpose()?;
    let stopped_by = wait_for_stop(&mut services, demo)?;
    eprintln!("\nstopping ({stopped_by})");
    // Services first (edge first, it is last in the list), then the servers they use.
    while let Some((service, _, _, mut process)) = services.pop() {
        process.stop();
        eprintln!("  stopped {service}");
    }
    for mut server in [
        clickhouse.into_process(),
        postgres.into_process(),
        nats.into_process(),
    ] {
        let name = server.name().to_owned();
        server.stop();
        eprintln!("  stopped {name}");
    }
    Ok(())
}

fn wait_ready(service: &str, port: u16, log: &Path, process: &mut Process) -> anyhow::Result<()> {
    let mut exited = None;
    let ready = devstack::wait::until(
        &format!("{service} /readyz"),
        Duration::from_secs(120),
        || {
            exited = process.exit_status();
            exited.is_some()
                || devstack::http::get(port, "/readyz", Duration::from_secs(3))
                    .is_ok_and(|r| r.status == 200)
        },
    );
    if let Some(status) = exited {
        anyhow::bail!(
            "{service} {}:\n{}",
            process::describe(status),
            process::log_tail(log, 20)
        );
    }
    ready.with_context(|| {
        format!(
            "{service} not ready; its log ends with:\n{}",
            process::log_tail(log, 20)
        )
    })
}

/// Blocks until Ctrl-C, SIGTERM, or a service exiting on its own; meanwhile sends the `demo`
/// traffic, if any. A failed demo is reported and leaves the stack running.
fn wait_for_stop(
    services: &mut [(&str, u16, PathBuf, Process)],
    demo: Option<xtask::demo::Options>,
) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut demo_done = demo.is_none();
        let sending = async {
            match &demo {
                Some(options) => (xtask::demo::run(options).await, options.url.clone()),
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sending);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok("ctrl-c".to_owned()),
                _ = terminate.recv() => return Ok("SIGTERM".to_owned()),
                (outcome, url) = &mut sending, if !demo_done => {
                    demo_done = true;
                    match outcome {
                        Ok(summary) => println!("{}", summary.report(&url)),
                        Err(err) => eprintln!(
                            "demo data failed: {err:#}\n(the stack keeps running; \
                             `cargo xtask demo` tries again)"
                        ),
                    }
                }
                _ = tick.tick() => {
                    for (service, _, log, process) in services.iter_mut() {
                        if let Some(status) = process.exit_status() {
                            return Ok(format!(
                                "{service} {}; its log ends with:\n{}",
                                process::describe(status),
                                process::log_tail(log, 20)
                            ));
                        }
                    }
                }
            }
        }
    })
}

/// `cargo xtask rebuild-projections`: replays `AUTH` into the Postgres projections of the local
/// stack (`cargo xtask up` must be running).
pub fn rebuild_projections() -> anyhow::Result<()> {
    let root = devstack::workspace_root();
    run(Command::new(cargo()).current_dir(&root).args([
        "build",
        "--package",
        "auth",
        "--bin",
        "auth",
    ]))?;
    let secrets = secrets()?;
    let nats_url = format!(
        "nats://{}:{}@127.0.0.1:{}",
        NatsUser::Auth.name(),
        secrets.get(NatsUser::Auth.password_variable()),
        port("NATS_PORT")?
    );
    run(Command::new(root.join("target/debug/auth"))
        .arg("rebuild")
        .env("NATS_URL", nats_url)
        .env("POSTGRES_PORT", port("POSTGRES_PORT")?.to_string())
        .env("POSTGRES_PASSWORD", secrets.get("POSTGRES_PASSWORD")))
}
