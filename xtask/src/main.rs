//! Automation for developers and CI, in Rust: `cargo xtask up` runs the whole stack locally,
//! `cargo xtask test` runs every test, `cargo xtask ui` builds the web app, `cargo xtask demo`
//! fills a running stack with a few weeks of made-up traffic. One module per command; this file
//! only reads the command line and hands it to the command's module.

mod bench;
mod demo;
mod install;
mod launcher;
mod local;
mod projections;
mod secrets;
mod test;
mod ui;
mod up;

use std::process::{Command, ExitCode};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Automation for developers and CI: run the stack, its tests, its benchmark.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// Each command's one line in `--help` is the first line of its doc comment.
#[derive(Debug, Subcommand)]
enum Cmd {
    Up(up::Args),
    Demo(demo::Args),
    Test(test::Args),
    Ui(ui::Args),
    RebuildProjections(projections::Args),
    /// Measure on a stack of its own; report in docs/benchmarks.md (and target/bench/)
    Bench(BenchArgs),
    /// The measuring of `bench`, run by it in the release build
    #[command(hide = true)]
    BenchRun(BenchArgs),
    Install(install::Args),
}

/// `bench` and `bench-run`: their flags live here, since the bench is a module of its own.
#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Fewer events and rounds: minutes instead of a quarter of an hour
    #[arg(long)]
    quick: bool,
}

fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Cmd::Up(args) => args.run(),
        Cmd::Demo(args) => args.run(),
        Cmd::Test(args) => args.run(),
        Cmd::Ui(args) => args.run(),
        Cmd::RebuildProjections(args) => args.run(),
        Cmd::Bench(args) => bench::run(bench::Options { quick: args.quick }),
        Cmd::BenchRun(args) => bench::measure(bench::Options { quick: args.quick }),
        Cmd::Install(args) => args.run(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Cargo build profile for the Rust code `up` and `ui` build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// `--debug` or not.
    fn debug_if(debug: bool) -> Self {
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
