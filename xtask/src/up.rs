//! `cargo xtask up`: the whole product on this machine, no Docker. Data lives under `.data/`
//! and survives restarts; Ctrl-C or SIGTERM stops every process we started, services first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use devstack::clickhouse::{ClickHouse, ClickHousePorts};
use devstack::install::Need;
use devstack::nats::NatsServer;
use devstack::ports::ensure_free;
use devstack::postgres::{Postgres, PostgresOptions};

use crate::command::{Profile, run};
use crate::launcher::{self, Launcher, Running, Service};
use crate::local::{self, PORTS, SERVICES, port};
use crate::secrets::{Secrets, write_private};
use crate::{demo, ui};

/// Install what is missing, start NATS, PostgreSQL, ClickHouse and the five services under .data/, print their URLs; Ctrl-C stops everything
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Build the services and the web app in debug (faster to build, slower to run)
    #[arg(long)]
    debug: bool,
    /// Once it is ready, send it the traffic of `demo`
    #[arg(long)]
    demo: bool,
}

/// The servers the services use, started under `.data/`.
struct Servers {
    nats: NatsServer,
    postgres: Postgres,
    clickhouse: ClickHouse,
    postgres_db: String,
    clickhouse_db: String,
    /// The file holding the operator's NATS URL (with its password).
    operator_url: PathBuf,
}

impl Args {
    /// Starts the stack and keeps it running until Ctrl-C; with `--demo`, sends it the demo
    /// traffic once it is ready.
    pub(crate) fn run(&self) -> anyhow::Result<()> {
        let profile = Profile::debug_if(self.debug);
        devstack::install::ensure(&[Need::Nats, Need::Postgres, Need::ClickHouse, Need::Wasm])?;
        for p in PORTS {
            ensure_free(port(p.variable)?, p.what, p.variable)?;
        }
        let ui_dir = ui::build(profile)?;
        eprintln!("building the services ({})", profile.dir());
        let logs = local::data_dir().join("logs");
        let launcher = Launcher::new(profile, &logs);
        launcher.build(&SERVICES.iter().map(|(name, _)| *name).collect::<Vec<_>>())?;

        let secrets = local::secrets()?;
        let servers = Servers::start(&secrets)?;
        // The token signing key is generated once and kept, so sessions survive a restart.
        let signing_keys = local::data_dir().join("auth/signing-keys");
        if !signing_keys.exists() {
            run(Command::new(launcher.binary("auth"))
                .args(["keys", "add"])
                .arg(&signing_keys))?;
        }
        let launcher = servers.environment(launcher, &secrets, &ui_dir, &signing_keys)?;
        let mut services = launcher.start_all(services(&servers, geoip_db())?)?;

        servers.print(&services)?;
        print_admin(&secrets, &logs);
        let demo = self.demo.then(demo::up_stack).transpose()?;
        let stopped_by = wait_for_stop(&mut services, demo)?;
        eprintln!("\nstopping ({stopped_by})");
        // Services first (edge first, it is last in the list), then the servers they use.
        launcher::stop_all(services, |name| eprintln!("  stopped {name}"));
        servers.stop();
        Ok(())
    }
}

/// The five services, each on its port, with the NATS user it connects as; ingest with the
/// GeoIP database `geoip_db` names, if any.
fn services(servers: &Servers, geoip_db: Option<String>) -> anyhow::Result<Vec<Service>> {
    SERVICES
        .iter()
        .map(|(name, port_variable)| {
            let service_port = port(port_variable)?;
            let mut service = Service::new(name)
                .env(port_variable, service_port.to_string())
                .ready_at(service_port, "/readyz", Duration::from_secs(120));
            if let Some(user) = local::nats_user(name) {
                service = service.env("NATS_URL", servers.nats.url_for(user));
            }
            if let (&"ingest", Some(files)) = (name, &geoip_db) {
                service = service.env("GEOIP_DB", files.clone());
            }
            Ok(service)
        })
        .collect()
}

/// The GeoIP database for ingest (`GEOIP_DB` when set, else DB-IP's, installed on first use).
/// The stack runs without one, events then without a location, when it cannot be had.
fn geoip_db() -> Option<String> {
    match devstack::install::geoip_db() {
        Ok(files) => Some(
            files
                .iter()
                .map(|file| file.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        Err(err) => {
            eprintln!("no GeoIP database, events get no location: {err:#}");
            None
        }
    }
}

impl Servers {
    /// NATS, PostgreSQL (with the auth database) and ClickHouse, on the stack's ports.
    fn start(secrets: &Secrets) -> anyhow::Result<Self> {
        let data = local::data_dir();
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
            password: secrets.get("POSTGRES_PASSWORD").to_owned(),
            ephemeral: false,
        })?;
        let postgres_db = local::env_or("POSTGRES_DB", "analytics_auth");
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
        Ok(Self {
            nats,
            postgres,
            clickhouse,
            postgres_db,
            clickhouse_db: local::env_or("CLICKHOUSE_DB", "analytics"),
            operator_url,
        })
    }

    /// `launcher` with the settings every service gets: the servers, the first admin, the web
    /// app, and where the other services listen.
    fn environment(
        &self,
        launcher: Launcher,
        secrets: &Secrets,
        ui_dir: &Path,
        signing_keys: &Path,
    ) -> anyhow::Result<Launcher> {
        let url = |variable: &str| port(variable).map(|p| format!("http://127.0.0.1:{p}"));
        Ok(launcher
            .env("AUTH_SIGNING_KEYS_FILE", signing_keys.display().to_string())
            .env("ADMIN_EMAIL", secrets.get("ADMIN_EMAIL"))
            .env("ADMIN_PASSWORD", secrets.get("ADMIN_PASSWORD"))
            .env("POSTGRES_HOST", "127.0.0.1")
            .env("POSTGRES_PORT", self.postgres.port().to_string())
            .env("POSTGRES_DB", self.postgres_db.clone())
            .env("POSTGRES_USER", "postgres")
            .env("POSTGRES_PASSWORD", secrets.get("POSTGRES_PASSWORD"))
            .env("CLICKHOUSE_HOST", "127.0.0.1")
            .env("CLICKHOUSE_PORT", self.clickhouse.http_port().to_string())
            .env("CLICKHOUSE_DB", self.clickhouse_db.clone())
            .env("CLICKHOUSE_PASSWORD", secrets.get("CLICKHOUSE_PASSWORD"))
            .env("UI_DIR", ui_dir.display().to_string())
            .env("INGEST_URL", url("INGEST_PORT")?)
            .env("AUTH_URL", url("AUTH_PORT")?)
            .env("QUERY_URL", url("QUERY_PORT")?)
            .env("SINK_URL", url("SINK_PORT")?))
    }

    /// Where each server and service answers.
    fn print(&self, services: &[Running]) -> anyhow::Result<()> {
        println!();
        println!(
            "  {:<11} {}  (monitoring http://127.0.0.1:{}; the operator's URL with its password is in {})",
            "nats",
            self.nats.anonymous_url(),
            port("NATS_MONITOR_PORT")?,
            self.operator_url.display()
        );
        println!(
            "  {:<11} postgres://postgres@127.0.0.1:{}/{}",
            "postgres",
            self.postgres.port(),
            self.postgres_db
        );
        println!(
            "  {:<11} http://127.0.0.1:{}  (database {})",
            "clickhouse",
            self.clickhouse.http_port(),
            self.clickhouse_db
        );
        for service in services {
            let note = if service.name == "edge" {
                "  <- open this"
            } else {
                ""
            };
            let service_port = service.port.unwrap_or_default();
            println!(
                "  {:<11} http://127.0.0.1:{service_port}{note}",
                service.name
            );
        }
        println!();
        Ok(())
    }

    /// ClickHouse, then PostgreSQL, then NATS: the reverse of their start order.
    fn stop(self) {
        for mut server in [
            self.clickhouse.into_process(),
            self.postgres.into_process(),
            self.nats.into_process(),
        ] {
            let name = server.name().to_owned();
            server.stop();
            eprintln!("  stopped {name}");
        }
    }
}

/// The first admin's address, and its password the one time it was generated.
fn print_admin(secrets: &Secrets, logs: &Path) {
    let admin_email = secrets.get("ADMIN_EMAIL");
    let secrets_file = local::data_dir().join("secrets.env");
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
}

/// Blocks until Ctrl-C, SIGTERM, or a service exiting on its own; meanwhile sends the `demo`
/// traffic, if any. A failed demo is reported and leaves the stack running.
fn wait_for_stop(
    services: &mut [Running],
    demo: Option<devstack::demo::Options>,
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
                Some(options) => (devstack::demo::run(options).await, options.url.clone()),
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
                    if let Some(exited) = services.iter_mut().find_map(Running::exited) {
                        return Ok(exited);
                    }
                }
            }
        }
    })
}
