//! The ingest binary as an operator runs it: configuration from the environment, graceful
//! shutdown on SIGTERM with readiness turning 503 first.

use std::process::{Command, Stdio};
use std::time::Duration;

use devstack::ports::free_port;
use devstack::process::{Options, Process};
use devstack::stack::TestStack;
use devstack::test::TempDir;

#[test]
fn a_bad_variable_stops_ingest_with_a_message_naming_it() -> anyhow::Result<()> {
    let output = Command::new(env!("CARGO_BIN_EXE_ingest"))
        .env("INGEST_PORT", "eighty")
        .stdin(Stdio::null())
        .output()?;
    assert!(!output.status.success(), "ingest must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("INGEST_PORT"), "{stderr}");
    assert!(stderr.contains("eighty"), "{stderr}");
    Ok(())
}

#[test]
fn sigterm_turns_readiness_to_503_then_ingest_exits_cleanly() -> anyhow::Result<()> {
    let stack = TestStack::builder().nats().start()?;
    let dir = TempDir::new("ingest-process")?;
    let port = free_port()?;
    let log = dir.path().join("ingest.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ingest"));
    command
        .env("INGEST_PORT", port.to_string())
        .env("NATS_URL", stack.nats().url())
        .env("SHUTDOWN_DELAY_MS", "3000")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    let mut ingest = Process::spawn("ingest", command, &log, Options::default())?;
    let readyz = || devstack::http::get(port, "/readyz", Duration::from_secs(2));
    devstack::wait::until("ingest ready", Duration::from_secs(30), || {
        readyz().is_ok_and(|r| r.status == 200)
    })?;

    let pid = libc::pid_t::try_from(ingest.pid())?;
    // SAFETY: kill(2) on the child we spawned and still hold.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let mut draining = None;
    devstack::wait::until(
        "readiness 503 while draining",
        Duration::from_secs(3),
        || {
            draining = readyz().ok();
            draining.as_ref().is_some_and(|r| r.status == 503)
        },
    )?;
    let body = draining.map(|r| r.body).unwrap_or_default();
    assert!(body.contains("shutting_down"), "{body}");

    devstack::wait::until("ingest to exit", Duration::from_secs(20), || {
        ingest.exit_status().is_some()
    })?;
    let status = ingest.exit_status().expect("exited");
    assert!(
        status.success(),
        "ingest {}",
        devstack::process::describe(status)
    );
    let logs = std::fs::read_to_string(&log)?;
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(
        logs.lines().all(|line| line.starts_with('{')),
        "JSON log lines:\n{logs}"
    );
    Ok(())
}
