//! Automation for developers and CI, in Rust: `cargo xtask up` runs the whole stack locally,
//! `cargo xtask test` runs every test, `cargo xtask ui` builds the web app, `cargo xtask demo`
//! fills a running stack with a few weeks of made-up traffic.

mod bench;
mod secrets;
mod stack;
mod ui;

use std::process::{Command, ExitCode};

use anyhow::Context as _;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  up [--debug] [--demo]
                    install what is missing, start NATS, PostgreSQL, ClickHouse and the five
                    services under .data/, print their URLs; Ctrl-C stops everything
                    (--demo: once it is ready, send it the traffic of `demo`)
  demo [--url URL] [--days 28] [--visitors 1500] [--seed 1] [--email E] [--password P]
       [--batch 500]
                    send a running stack (default: the `up` stack's edge) weeks of made-up
                    traffic through the public SDK routes, with the first admin's
                    (ADMIN_EMAIL, ADMIN_PASSWORD) built-in project write key
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
        Some("up") => stack::up(profile(&args[1..]), args[1..].iter().any(|a| a == "--demo")),
        Some("demo") => demo(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("ui") => ui::build(profile(&args[1..])).map(|_| ()),
        Some("rebuild-projections") => stack::rebuild_projections(),
        Some("bench") => bench::run(bench::Options {
            quick: args[1..].iter().any(|a| a == "--quick"),
        }),
        Some("bench-run") => bench::measure(bench::Options {
            quick: args[1..].iter().any(|a| a == "--quick"),
        }),
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
        Need::CheckJsonschema,
        Need::KubernetesValidate,
        Need::Kustomize,
        Need::ZooKeeper,
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

/// `cargo xtask demo`: the demo traffic, sent to the stack the options name.
fn demo(args: &[String]) -> anyhow::Result<()> {
    let options = xtask::demo::Options::parse(args, stack::demo_options()?)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(xtask::demo::run(&options))?;
    println!("{}", summary.report(&options.url));
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
