//! `cargo xtask bench`: measures on a stack of its own (free ports, temporary folders), each
//! figure next to a limit measured in the same run, and writes `docs/benchmarks.md` (with
//! `target/bench/report.md` and `report.json`). Scenarios: ingest and the sink (`pipeline`),
//! `cargo xtask import` of each export format (`imports`), queries (`queries`), and auth
//! (logins against the argon2id bound, token costs).

mod auth;
mod backpressure;
mod backpressure_table;
mod chart;
mod drain;
mod failed;
mod freshness;
mod hostile;
mod import_data;
mod imports;
mod intake;
mod load;
mod markdown;
mod pipeline;
mod queries;
mod query_data;
mod quiet;
mod report;
mod scaling;
mod send;
mod services;
mod sink;
mod targets;

use std::process::Command;

use devstack::install::Need;
use devstack::test::TempDir;

use crate::command::{cargo, run as run_command};

/// What `cargo xtask bench` was asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Fewer events and rounds: minutes instead of a quarter of an hour.
    pub(crate) quick: bool,
    /// Only the query scenarios, reported on their own.
    pub(crate) queries_only: bool,
}

/// `cargo xtask bench`: builds the services and xtask itself in release, then measures there
/// (`bench-run`), so no figure comes from unoptimised code.
pub(crate) fn run(options: Options) -> anyhow::Result<()> {
    devstack::install::ensure(&[Need::Nats, Need::Postgres, Need::ClickHouse])?;
    let root = devstack::workspace_root();
    let mut build = Command::new(cargo());
    build.current_dir(&root).args(["build", "--release"]);
    for service in ["auth", "ingest", "sink", "query", "edge"] {
        build.args(["--package", service, "--bin", service]);
    }
    run_command(&mut build)?;
    let mut measure = Command::new(cargo());
    measure.current_dir(&root).args([
        "run",
        "--quiet",
        "--release",
        "--package",
        "xtask",
        "--",
        "bench-run",
    ]);
    if options.quick {
        measure.arg("--quick");
    }
    if options.queries_only {
        measure.arg("--queries-only");
    }
    run_command(&mut measure)
}

/// `cargo xtask bench-run`: the measuring itself, in the release build. When it fails, the
/// stack's logs are copied out of its temporary folder before that goes.
pub(crate) fn measure(options: Options) -> anyhow::Result<()> {
    let dir = TempDir::new("bench")?;
    let result = measure_in(options, &dir);
    if result.is_err() {
        failed::keep_logs(dir.path());
    }
    result
}

fn measure_in(options: Options, dir: &TempDir) -> anyhow::Result<()> {
    let Options {
        quick,
        queries_only,
    } = options;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The query scenarios' events need the most disk: said now, not after the pipeline.
    query_data::ensure_disk(dir.path(), queries::events(quick))?;
    if queries_only {
        let queries = runtime.block_on(queries::run(quick, dir))?;
        return report::write_queries(&queries);
    }
    // How long each part measures, printed: `--quick` is meant to stay within minutes.
    let started = std::time::Instant::now();
    let pipeline = runtime.block_on(pipeline::run(quick, dir))?;
    let pipeline_secs = started.elapsed().as_secs_f64();
    let queries = runtime.block_on(queries::run(quick, dir))?;
    let queries_secs = started.elapsed().as_secs_f64() - pipeline_secs;
    let auth = auth::run(quick, dir, cores)?;
    eprintln!(
        "bench: measured in {:.0} s (pipeline {pipeline_secs:.0} s, of which scaling {:.0} s; queries {queries_secs:.0} s; auth {:.0} s)",
        started.elapsed().as_secs_f64(),
        pipeline.scaling.secs,
        started.elapsed().as_secs_f64() - pipeline_secs - queries_secs,
    );
    report::write(&report::Report {
        quick,
        cores,
        pipeline,
        queries,
        auth,
    })
}
