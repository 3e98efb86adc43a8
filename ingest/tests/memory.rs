//! Hostile bodies against the ingest binary, whose memory is read from `/proc`: bodies that
//! inflate to 20 MiB of `[{},{},…]` or of number arrays, on every route that reads a batch,
//! are refused with a 4xx while ingest's peak resident memory stays within bounds, alone and
//! eight at once, and ingest keeps serving.

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use common::{access_token, serve_jwks};
use devstack::ports::free_port;
use devstack::process::{Options, Process};
use devstack::test::{TempDir, TestNats};

mod common;

const MIB: u64 = 1024 * 1024;
/// The decoded-body limit of ingest (`ingest::body::MAX_DECODED_BYTES`).
const DECODED_LIMIT: usize = ingest::body::MAX_DECODED_BYTES;

/// A body that inflates to `prefix`, then `element` repeated, then `suffix`, `total` bytes at
/// most. It is made of gzip members (ingest reads concatenated members, as gzip does), so only
/// a 64 KiB chunk is compressed, and the last member's size trailer understates the whole, as
/// a hostile client's would.
fn inflating(prefix: &str, element: &str, suffix: &str, total: usize) -> Vec<u8> {
    let per_chunk = (64 * 1024 / element.len()).max(1);
    let chunk = element.repeat(per_chunk);
    let chunks = (total - prefix.len() - suffix.len()) / chunk.len();
    let compressed_chunk = gzip(chunk.as_bytes());
    let mut body = gzip(prefix.as_bytes());
    for _ in 0..chunks {
        body.extend_from_slice(&compressed_chunk);
    }
    body.extend_from_slice(&gzip(suffix.as_bytes()));
    body
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("writes");
    encoder.finish().expect("finishes")
}

/// `body` as posthog-js sends it with `compression=base64`: a form whose `data` is base64.
fn base64_form(body: &[u8]) -> Vec<u8> {
    let data = base64::engine::general_purpose::STANDARD.encode(body);
    let encoded: String = url::form_urlencoded::byte_serialize(data.as_bytes()).collect();
    format!("data={encoded}&compression=base64").into_bytes()
}

/// Ingest's resident memory and its peak, in bytes, from `/proc/<pid>/status`.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .expect("a field of /proc/<pid>/status")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak to the current resident memory (`clear_refs` 5), so that the next peak is
/// one request's; false where the kernel does not allow it.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// One hostile request: where it goes, its body, and whether it needs the bearer token.
struct Hostile {
    name: &'static str,
    path: &'static str,
    body: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_that_inflate_to_millions_of_events_are_refused_and_ingest_stays_small() {
    let nats = TestNats::start().expect("nats");
    let keys = auth::keys::Keys::from_seeds(&[[7; 32]]).expect("keys");
    let auth_url = serve_jwks(&keys).await;
    let token = access_token(&keys, uuid::Uuid::now_v7(), contract::auth::Role::User);

    let dir = TempDir::new("ingest-memory").expect("dir");
    let port = free_port().expect("port");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ingest"));
    command
        .env("INGEST_PORT", port.to_string())
        .env("NATS_URL", nats.url())
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
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    devstack::wait::until_async("ingest ready", Duration::from_secs(60), || async {
        http.get(url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await
    .expect("ready");
    let send = |path: &str, body: Vec<u8>| {
        http.post(url(path))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    let serves = || async {
        let event = serde_json::json!({ "event": "still here" }).to_string();
        let answer = send("/api/events", event.into_bytes())
            .await
            .expect("answers");
        answer.status().as_u16()
    };
    // Warm up: what every request allocates once (connections, the JWKS) is in the baseline.
    assert_eq!(serves().await, 200);

    let empties = |prefix: &str, suffix: &str| inflating(prefix, "{},", suffix, DECODED_LIMIT);
    let numbers = format!(
        r#"{{"event":"e","distinct_id":"u","properties":{{"a":[{}0]}}}},"#,
        "0,".repeat(40_000)
    );
    let hostile = [
        Hostile {
            name: "posthog /batch/ [{},…]",
            path: "/batch/",
            body: empties("[", "{}]"),
        },
        Hostile {
            name: "posthog /e/ {batch:[{},…]}",
            path: "/e/",
            body: empties(r#"{"api_key":"ea_none","batch":["#, "{}]}"),
        },
        Hostile {
            name: "posthog /i/v0/e/ base64 form of gzip [{},…]",
            path: "/i/v0/e/",
            body: base64_form(&empties("[", "{}]")),
        },
        Hostile {
            name: "posthog /capture/ number arrays",
            path: "/capture/",
            body: inflating("[", &numbers, r#"{"event":"e"}]"#, DECODED_LIMIT),
        },
        Hostile {
            name: "segment /v1/batch {batch:[{},…]}",
            path: "/v1/batch",
            body: empties(r#"{"writeKey":"ea_none","batch":["#, "{}]}"),
        },
        Hostile {
            name: "segment /v1/b number arrays",
            path: "/v1/b",
            body: inflating(r#"{"batch":["#, &numbers, "{}]}", DECODED_LIMIT),
        },
        Hostile {
            name: "segment /v1/track one huge message",
            path: "/v1/track",
            body: inflating(
                r#"{"event":"e","properties":{"a":["#,
                "0,",
                "0]}}",
                DECODED_LIMIT,
            ),
        },
        Hostile {
            name: "native /api/events {batch:[{},…]}",
            path: "/api/events",
            body: empties(r#"{"batch":["#, "{}]}"),
        },
        Hostile {
            name: "plausible /api/event",
            path: "/api/event",
            body: empties("[", "{}]"),
        },
        Hostile {
            name: "umami /api/send",
            path: "/api/send",
            body: empties("[", "{}]"),
        },
    ];

    let (baseline, baseline_peak) = memory(pid);
    let resettable = reset_peak(pid);
    let mib = |bytes: u64| bytes as f64 / MIB as f64;
    eprintln!(
        "baseline RSS {:.1} MiB, peak {:.1} MiB (per-request peaks {})",
        mib(baseline),
        mib(baseline_peak),
        if resettable {
            "measured alone"
        } else {
            "cumulative: clear_refs refused"
        }
    );
    for request in &hostile {
        let (before, _) = memory(pid);
        reset_peak(pid);
        let answer = send(request.path, request.body.clone())
            .await
            .expect("answers");
        let status = answer.status().as_u16();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        let (_, peak) = memory(pid);
        let growth = peak.saturating_sub(before);
        eprintln!(
            "{}: {} bytes on the wire, {status} {}, peak RSS +{:.1} MiB ({:.1} MiB over the baseline)",
            request.name,
            request.body.len(),
            body["error"]["code"],
            mib(growth),
            mib(peak.saturating_sub(baseline)),
        );
        assert!(
            (400..500).contains(&status) && body["error"]["code"].is_string(),
            "{}: {status} {body}",
            request.name
        );
        assert!(
            growth < 64 * MIB,
            "{}: the peak grew by {growth} bytes",
            request.name
        );
    }

    // Eight at once: two of each flood of empty events.
    reset_peak(pid);
    let sends = hostile
        .iter()
        .filter(|request| request.name.contains("[{},…]") && !request.name.contains("form"))
        .cycle()
        .take(8)
        .map(|request| {
            let answer = send(request.path, request.body.clone());
            async move { answer.await.map(|answer| answer.status().as_u16()) }
        });
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|status| status.expect("answers"))
        .collect();
    let (_, peak) = memory(pid);
    // Over the baseline, not over the memory before: what the earlier requests freed and the
    // allocator kept counts too.
    let growth = peak.saturating_sub(baseline);
    let bound = 8 * (DECODED_LIMIT as u64 + 16 * MIB);
    eprintln!(
        "8 at once: {statuses:?}, peak RSS {:.1} MiB over the baseline (bound {} MiB)",
        mib(growth),
        bound / MIB
    );
    assert!(statuses.iter().all(|status| (400..500).contains(status)));
    assert!(growth < bound, "the peak grew by {growth} bytes");

    assert_eq!(serves().await, 200, "ingest still serves");
    assert!(ingest.exit_status().is_none(), "ingest is still running");
}
