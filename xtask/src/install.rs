//! `cargo xtask install`: the tools `up` and `test` need, installed where missing, nothing else.

use devstack::install::Need;

/// Install what `up` and `test` need, nothing else
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

impl Args {
    pub(crate) fn run(&self) -> anyhow::Result<()> {
        devstack::install::ensure(&everything()).map(|_| ())
    }
}

/// Every tool a command or test of the workspace runs.
pub(crate) fn everything() -> Vec<Need> {
    vec![
        Need::Nats,
        Need::Postgres,
        Need::ClickHouse,
        Need::Browser,
        Need::Wasm,
        Need::SdkClients,
        Need::Chdb,
        Need::Schemathesis,
        Need::CheckJsonschema,
        Need::KubernetesValidate,
        Need::Kustomize,
        Need::ZooKeeper,
        Need::GeoIp,
    ]
}
