//! Running cargo and the other programs the commands start, and the build profile they use.

use std::process::Command;

use anyhow::Context as _;

/// Cargo build profile for the Rust code `up` and `ui` build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// `--debug` or not.
    pub(crate) fn debug_if(debug: bool) -> Self {
        if debug {
            Profile::Debug
        } else {
            Profile::Release
        }
    }

    /// The `cargo build` flag, if any.
    pub(crate) fn cargo_flag(self) -> Option<&'static str> {
        match self {
            Profile::Debug => None,
            Profile::Release => Some("--release"),
        }
    }

    /// Folder under `target/<triple>/`.
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// The cargo that runs us, so the same toolchain builds everything.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs `command`, failing with its description when it fails.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}
