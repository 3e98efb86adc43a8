//! `cargo xtask rebuild-projections`: replays `AUTH` into the Postgres projections of the local
//! stack (`cargo xtask up` must be running).

use std::process::Command;

use devstack::nats::NatsUser;

use crate::command::{cargo, run};
use crate::local;

/// Truncate the auth projections in PostgreSQL and replay the AUTH stream into them (against the running `up` stack)
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

impl Args {
    pub(crate) fn run(&self) -> anyhow::Result<()> {
        let root = devstack::workspace_root();
        run(Command::new(cargo()).current_dir(&root).args([
            "build",
            "--package",
            "auth",
            "--bin",
            "auth",
        ]))?;
        let secrets = local::secrets()?;
        let nats_url = format!(
            "nats://{}:{}@127.0.0.1:{}",
            NatsUser::Auth.name(),
            secrets.get(NatsUser::Auth.password_variable()),
            local::port("NATS_PORT")?
        );
        run(Command::new(root.join("target/debug/auth"))
            .arg("rebuild")
            .env("NATS_URL", nats_url)
            .env("POSTGRES_PORT", local::port("POSTGRES_PORT")?.to_string())
            .env("POSTGRES_PASSWORD", secrets.get("POSTGRES_PASSWORD")))
    }
}
