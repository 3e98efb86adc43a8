//! Finding the binaries the stack needs and, on Debian/Ubuntu, installing what is missing:
//! apt-get (ClickHouse, PostgreSQL, Chromium), pip (nats-server 2.14+, the test tools), rustup
//! (the wasm target) and cargo (`wasm-bindgen-cli` at the version in Cargo.lock).

mod locate;
mod setup;
mod tools;

pub use locate::locate;
pub(crate) use locate::on_path;
pub(crate) use setup::is_root;
pub use tools::{GEOIP_PACKAGE, Kustomize, Need, Tools, sdk_clients_dir};

/// Finds every tool for `needs`, installing what is missing where the system allows it.
pub fn ensure(needs: &[Need]) -> anyhow::Result<Tools> {
    let missing = missing(needs);
    if !missing.is_empty() {
        setup::install(&missing)?;
        let still = self::missing(needs);
        anyhow::ensure!(
            still.is_empty(),
            "still missing after installing: {}",
            still
                .iter()
                .map(|n| n.describe())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(locate())
}

/// What `needs` lacks on this machine.
fn missing(needs: &[Need]) -> Vec<Need> {
    let tools = locate();
    needs
        .iter()
        .copied()
        .filter(|need| match need {
            Need::Nats => tools.nats_server.is_none(),
            Need::Postgres => tools.postgres_bin_dir.is_none(),
            Need::ClickHouse => tools.clickhouse_server.is_none(),
            Need::Browser => tools.chromium.is_none() || tools.chromedriver.is_none(),
            Need::Wasm => !locate::wasm_target_installed() || tools.wasm_bindgen.is_none(),
            Need::Chdb => tools.chdb_python.is_none(),
            Need::Schemathesis => tools.schemathesis.is_none(),
            Need::CheckJsonschema => tools.check_jsonschema.is_none(),
            Need::KubernetesValidate => tools.kubernetes_validate.is_none(),
            Need::Kustomize => tools.kustomize.is_none(),
            Need::ZooKeeper => tools.zookeeper_jar.is_none() || tools.java.is_none(),
            Need::SdkClients => {
                on_path("node").is_none()
                    || [
                        "posthog-node",
                        "@plausible-analytics/tracker",
                        ".bin/esbuild",
                    ]
                    .iter()
                    .any(|package| {
                        !sdk_clients_dir()
                            .join("node_modules")
                            .join(package)
                            .exists()
                    })
            }
            Need::GeoIp => tools.geoip_db.is_none(),
        })
        .collect()
}

/// The GeoIP database files for ingest's `GEOIP_DB`, installed first when missing.
pub fn geoip_db() -> anyhow::Result<Vec<std::path::PathBuf>> {
    ensure(&[Need::GeoIp])?
        .geoip_db
        .ok_or_else(|| anyhow::anyhow!("no GeoIP database: {}", Need::GeoIp.describe()))
}
