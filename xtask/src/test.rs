//! `cargo xtask test`: everything the tests start must exist first; then one `cargo test` of the
//! whole workspace.

use std::ffi::OsString;
use std::process::Command;

use anyhow::Context as _;

use crate::command::{Profile, cargo};
use crate::ui;

/// Install what is missing, build the web app, run every test of the workspace
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Passed on to `cargo test` (after `--` too, say `-- --nocapture`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_test: Vec<OsString>,
}

impl Args {
    /// What goes to `cargo test`, in order.
    #[cfg(test)]
    pub(crate) fn cargo_test(&self) -> &[OsString] {
        &self.cargo_test
    }

    pub(crate) fn run(&self) -> anyhow::Result<()> {
        devstack::install::ensure(&crate::install::everything())?;
        ui::build(Profile::Release)?;
        let status = Command::new(cargo())
            .current_dir(devstack::workspace_root())
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(&self.cargo_test)
            .status()
            .context("running cargo test")?;
        anyhow::ensure!(status.success(), "tests failed ({status})");
        Ok(())
    }
}
