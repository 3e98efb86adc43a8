//! A PostgreSQL cluster: `initdb` once, then `postgres -D`. When we run as root, the server
//! runs as the `postgres` system user, since PostgreSQL refuses root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::process::{self, Options, Process};
use crate::{install, is_identifier, wait};

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Holds `data/` (the cluster) and the log.
    pub dir: PathBuf,
    pub port: u16,
    /// Password of the `postgres` superuser (set at `initdb`).
    pub password: String,
    /// Trade durability for speed (tests): no fsync, no synchronous commit.
    pub ephemeral: bool,
}

/// A running PostgreSQL server.
#[derive(Debug)]
pub struct Postgres {
    process: Process,
    options: PostgresOptions,
    bin: PathBuf,
    log: PathBuf,
}

impl Postgres {
    pub fn start(options: PostgresOptions) -> anyhow::Result<Self> {
        let bin = install::locate()
            .postgres_bin_dir
            .context("PostgreSQL server binaries not found; `cargo xtask up` installs them")?;
        let run_as = if install::is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        std::fs::create_dir_all(&options.dir)?;
        let data = options.dir.join("data");
        let log = options.dir.join("postgres.log");
        if let Some((uid, gid)) = run_as {
            chown(&options.dir, uid, gid)?;
        }
        if !data.join("PG_VERSION").exists() {
            init_cluster(&bin, &options, run_as, &log)?;
        }

        let mut command = Command::new(bin.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-p", &options.port.to_string(), "-k"])
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ]);
        if options.ephemeral {
            command.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        let process = Process::spawn(
            "postgres",
            command,
            &log,
            Options {
                // SIGINT is PostgreSQL's fast shutdown: roll back, write a checkpoint, exit.
                stop_signal: libc::SIGINT,
                run_as,
                ..Options::default()
            },
        )?;
        let mut server = Self {
            process,
            options,
            bin,
            log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let pg_isready = self.bin.join("pg_isready");
        let port = self.options.port.to_string();
        self.process.wait_ready(
            "postgres to accept connections",
            Duration::from_secs(60),
            &self.log,
            || {
                Command::new(&pg_isready)
                    .args(["-q", "-h", "127.0.0.1", "-p", &port])
                    .status()
                    .is_ok_and(|s| s.success())
            },
        )
    }

    pub fn port(&self) -> u16 {
        self.options.port
    }

    pub fn password(&self) -> &str {
        &self.options.password
    }

    /// Creates `name` unless it exists.
    pub fn create_database(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            is_identifier(name),
            "database name {name:?} is not a plain identifier"
        );
        let exists = self.psql(&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{name}'"
        ))?;
        if exists.trim() != "1" {
            self.psql(&format!("CREATE DATABASE \"{name}\""))?;
        }
        Ok(())
    }

    /// Drops `name`, closing its connections.
    pub fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            is_identifier(name),
            "database name {name:?} is not a plain identifier"
        );
        self.psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
        Ok(())
    }

    /// Runs one statement as the superuser in the `postgres` database.
    pub fn psql(&self, sql: &str) -> anyhow::Result<String> {
        self.psql_in("postgres", sql)
    }

    /// Runs one statement as the superuser in `database` and returns its unaligned output.
    pub fn psql_in(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.options.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-c", sql])
            .env("PGPASSWORD", &self.options.password)
            .output()
            .context("running psql")?;
        anyhow::ensure!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
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

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        *self = Self::start(self.options.clone())?;
        Ok(())
    }
}

fn init_cluster(
    bin: &Path,
    options: &PostgresOptions,
    run_as: Option<(u32, u32)>,
    log: &Path,
) -> anyhow::Result<()> {
    let password_file = options.dir.join("initdb-password");
    std::fs::write(&password_file, &options.password)?;
    if let Some((uid, gid)) = run_as {
        chown(&password_file, uid, gid)?;
    }
    let mut command = Command::new(bin.join("initdb"));
    command
        .arg("-D")
        .arg(options.dir.join("data"))
        .args(["-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"])
        .args(["--auth-host=scram-sha-256", "--auth-local=trust"])
        .arg(format!("--pwfile={}", password_file.display()));
    if options.ephemeral {
        command.arg("--no-sync");
    }
    let mut initdb = Process::spawn(
        "initdb",
        command,
        log,
        Options {
            run_as,
            stop_timeout: Duration::from_secs(120),
            ..Options::default()
        },
    )?;
    let finished = wait::until("initdb", Duration::from_secs(120), || {
        initdb.exit_status().is_some()
    });
    let _ = std::fs::remove_file(&password_file);
    finished?;
    match initdb.exit_status() {
        Some(status) if status.success() => Ok(()),
        Some(status) => anyhow::bail!(
            "initdb {}:\n{}",
            process::describe(status),
            process::log_tail(log, 20)
        ),
        None => anyhow::bail!("initdb did not finish"),
    }
}

/// uid and gid of the `postgres` system user.
fn postgres_user() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .context("running as root, but there is no `postgres` user to run PostgreSQL as")
}

fn chown(path: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}
