//! Automation for developers and CI, in Rust: `cargo xtask up` runs the whole stack locally,
//! `cargo xtask test` runs every test, `cargo xtask ui` builds the web app.

mod bench;
mod pipeline_bench;
mod query_bench;
mod stack;
mod ui;

use std::process::{Command, ExitCode};

use anyhow::Context as _;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  up [--debug]      install what is missing, start NATS, PostgreSQL, ClickHouse and the five
                    services under .data/, print their URLs; Ctrl-C stops everything
  test [ARGS...]    install what is missing, build the web app, run every test of the workspace
                    (ARGS go to `cargo test`)
  ui [--debug]      build the web app into ui/dist
  rebuild-projections
                    truncate the auth projections in PostgreSQL and replay the AUTH stream
                    into them (against the running `up` stack)
  bench [--quick]   measure on a stack of its own; report in target/bench/
  install           install what `up` and `test` need, nothing else
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("up") => stack::up(profile(&args[1..])),
        Some("test") => test(&args[1..]),
        Some("ui") => ui::build(profile(&args[1..])).map(|_| ()),
        Some("rebuild-projections") => stack::rebuild_projections(),
        Some("bench") => bench::bench(args[1..].iter().any(|a| a == "--quick")),
        Some("bench-run") => bench::bench_run(args[1..].iter().any(|a| a == "--quick")),
        Some("install") => devstack::install::ensure(&everything()).map(|_| ()),
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
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
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// The `cargo build` flag, if any.
    pub fn cargo_flag(self) -> Option<&'static str> {
        match self {
            Profile::Debug => None,
            Profile::Release => Some("--release"),
        }
    }

    /// Folder under `target/<triple>/`.
    pub fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

fn profile(args: &[String]) -> Profile {
    if args.iter().any(|a| a == "--debug") {
        Profile::Debug
    } else {
        Profile::Release
    }
}

fn everything() -> Vec<devstack::install::Need> {
    use devstack::install::Need;
    vec![
        Need::Nats,
        Need::Postgres,
        Need::ClickHouse,
        Need::Browser,
        Need::Wasm,
        Need::SdkClients,
        Need::Chdb,
        Need::Schemathesis,
    ]
}

/// `cargo xtask test`: everything the tests start must exist first; then one `cargo test`.
fn test(args: &[String]) -> anyhow::Result<()> {
    devstack::install::ensure(&everything())?;
    ui::build(Profile::Release)?;
    let status = Command::new(cargo())
        .current_dir(devstack::workspace_root())
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(args)
        .status()
        .context("running cargo test")?;
    anyhow::ensure!(status.success(), "tests failed ({status})");
    Ok(())
}

/// The cargo that runs us, so the same toolchain builds everything.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs `command`, failing with its description when it fails.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}
