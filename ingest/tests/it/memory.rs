//! Hostile bodies against the ingest binary, whose memory is read from `/proc`: bodies that
//! inflate to 20 MiB of `[{},{},…]` or of number arrays, on every route that reads a batch,
//! are refused with a 4xx while ingest's peak resident memory stays within bounds, alone and
//! eight at once, and ingest keeps serving (the requests and the measuring are
//! `devstack::hostile`'s, which `cargo xtask bench` reports for the release build).

use std::process::Command;
use std::time::Duration;

use devstack::ports::free_port;
use devstack::process::{Options, Process};
use devstack::stack::TestStack;
use devstack::test::TempDir;

use crate::common::{access_token, serve_jwks};

const MIB: u64 = 1024 * 1024;
/// The decoded-body limit of ingest.
const DECODED_LIMIT: usize = contract::event::MAX_DECODED_REQUEST_BYTES;

#[tokio::test(flavor = "multi_thread")]
async fn bodies_that_inflate_to_millions_of_events_are_refused_and_ingest_stays_small() {
    let stack = TestStack::builder().nats().start().expect("nats");
    let keys = auth::signing::SigningKeys::from_seeds(&[[7; 32]]).expect("keys");
    let auth_url = serve_jwks(&keys).await;
    let token = access_token(&keys, uuid::Uuid::now_v7(), contract::auth::Role::User);

    let dir = TempDir::new("ingest-memory").expect("dir");
    let port = free_port().expect("port");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ingest"));
    command
        .env("INGEST_PORT", port.to_string())
        .env(
            "NATS_URL",
            stack.nats().url_for(devstack::nats::NatsUser::Ingest),
        )
        .env("AUTH_URL", &auth_url)
        .env("RUST_LOG", "warn");
    let mut ingest = Process::spawn(
        "ingest",
        command,
        &dir.path().join("ingest.log"),
        Options::default(),
    )
    .expect("ingest starts");
    let pid = ingest.pid();
    devstack::wait::until("ingest ready", Duration::from_secs(60), || {
        devstack::http::get(port, "/readyz", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    })
    .expect("ready");

    let report = tokio::task::spawn_blocking(move || {
        devstack::hostile::measure(port, pid, &token, DECODED_LIMIT)
    })
    .await
    .expect("joins")
    .expect("measured");
    let mib = |bytes: u64| bytes as f64 / MIB as f64;
    eprintln!(
        "baseline RSS {:.1} MiB (per-request peaks {})",
        report.baseline_mib(),
        if report.peak_resettable {
            "measured alone"
        } else {
            "cumulative: clear_refs refused"
        }
    );
    for request in &report.each {
        eprintln!(
            "{}: {} bytes on the wire, {} {}, peak RSS +{:.1} MiB",
            request.name,
            request.bytes,
            request.status,
            request.code,
            mib(request.peak_growth),
        );
        assert!(
            (400..500).contains(&request.status) && !request.code.is_empty(),
            "{}: {} {}",
            request.name,
            request.status,
            request.code
        );
        assert!(
            request.peak_growth < 64 * MIB,
            "{}: the peak grew by {} bytes",
            request.name,
            request.peak_growth
        );
    }
    assert_eq!(report.each.len(), 10, "every route was tried");

    let bound = 8 * (DECODED_LIMIT as u64 + 16 * MIB);
    eprintln!(
        "8 at once: {:?}, peak RSS {:.1} MiB over the baseline (bound {} MiB)",
        report.eight_at_once,
        report.eight_at_once_mib(),
        bound / MIB
    );
    assert_eq!(report.eight_at_once.len(), 8);
    assert!(
        report
            .eight_at_once
            .iter()
            .all(|status| (400..500).contains(status))
    );
    assert!(
        report.eight_at_once_growth < bound,
        "the peak grew by {} bytes",
        report.eight_at_once_growth
    );
    assert_eq!(report.serves_after, 200, "ingest still serves");
    assert!(ingest.exit_status().is_none(), "ingest is still running");
}
