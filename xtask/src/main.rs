//! Automation for developers and CI, in Rust: `cargo xtask up` runs the whole stack locally,
//! `cargo xtask test` runs every test, `cargo xtask ui` builds the web app, `cargo xtask demo`
//! fills a running stack with a few weeks of made-up traffic. One module per command; this file
//! only reads the command line and hands it to the command's module.

mod bench;
mod command;
mod demo;
mod import;
mod install;
mod launcher;
mod local;
mod projections;
mod secrets;
mod test;
mod ui;
mod up;

use std::ffi::OsString;
use std::process::ExitCode;

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
    Import(import::Args),
}

/// The command line as clap should see it. clap takes a `--` right after `test` as the end of
/// options and drops it, but `cargo xtask test -- --ignored` means `cargo test -- --ignored`:
/// a second `--` keeps the first for cargo.
fn argv(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "test") && args.get(2).is_some_and(|a| a == "--") {
        args.insert(2, "--".into());
    }
    args
}

/// `bench` and `bench-run`: their flags live here, since the bench is a module of its own.
#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Fewer events and rounds: minutes instead of a quarter of an hour
    #[arg(long)]
    quick: bool,
    /// Only the query scenarios: prints their table and writes target/bench/queries.md,
    /// leaving docs/benchmarks.md as it is
    #[arg(long)]
    queries_only: bool,
}

impl BenchArgs {
    fn options(&self) -> bench::Options {
        bench::Options {
            quick: self.quick,
            queries_only: self.queries_only,
        }
    }
}

fn main() -> ExitCode {
    let outcome = match Cli::parse_from(argv(std::env::args_os())).command {
        Cmd::Up(args) => args.run(),
        Cmd::Demo(args) => args.run(),
        Cmd::Test(args) => args.run(),
        Cmd::Ui(args) => args.run(),
        Cmd::RebuildProjections(args) => args.run(),
        Cmd::Bench(args) => bench::run(args.options()),
        Cmd::BenchRun(args) => bench::measure(args.options()),
        Cmd::Install(args) => args.run(),
        Cmd::Import(args) => args.run(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use devstack::demo::{Options, Plan};

    use super::*;

    /// The command line as `cargo xtask` reads it.
    fn parse(text: &str) -> Result<demo::Args, String> {
        let line = ["xtask", "demo"].into_iter().chain(text.split(' '));
        match Cli::try_parse_from(argv(line.map(OsString::from)))
            .map_err(|err| err.to_string())?
            .command
        {
            Cmd::Demo(args) => Ok(args),
            other => Err(format!("not demo: {other:?}")),
        }
    }

    #[test]
    fn options_are_read_from_flags_and_bad_values_are_named() {
        let defaults = || Options {
            url: "http://127.0.0.1:8000".to_owned(),
            email: "admin@example.com".to_owned(),
            password: "x".to_owned(),
            plan: Plan::default(),
            batch_size: 500,
            progress: true,
        };
        let options =
            parse("--url http://host:9000/ --days=14 --visitors 20 --seed 42 --batch 100")
                .expect("valid options")
                .options(defaults());
        assert_eq!(options.url, "http://host:9000");
        assert_eq!(
            options.plan,
            Plan {
                days: 14,
                visitors: 20,
                seed: 42,
                ..Plan::default()
            }
        );
        assert_eq!(options.batch_size, 100);
        let error = |text: &str| parse(text).expect_err("refused");
        // Each refusal names the flag and what is wrong with its value.
        let days = error("--days 0");
        assert!(
            days.contains("--days") && days.contains("from 1 to 365"),
            "{days}"
        );
        let batch = error("--batch 5000");
        assert!(
            batch.contains("--batch") && batch.contains("from 1 to 1000"),
            "{batch}"
        );
        let seed = error("--seed");
        assert!(
            seed.contains("--seed") && seed.contains("value is required"),
            "{seed}"
        );
        let colour = error("--colour red");
        assert!(
            colour.contains("unexpected argument '--colour'"),
            "{colour}"
        );
    }

    #[test]
    fn test_hands_every_argument_to_cargo_test_as_written() {
        for given in [
            "-p edge --test it demo -- --nocapture",
            "--release -q",
            "-- --ignored",
        ] {
            let line = format!("xtask test {given}");
            let Cmd::Test(args) = Cli::try_parse_from(argv(line.split(' ').map(OsString::from)))
                .expect("parsed")
                .command
            else {
                panic!("not test");
            };
            let passed: Vec<_> = args
                .cargo_test()
                .iter()
                .map(|a| a.to_string_lossy())
                .collect();
            assert_eq!(passed.join(" "), given);
        }
    }
}
