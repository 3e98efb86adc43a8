//! Hostile bodies against a running ingest process, and its memory read from `/proc`: small
//! requests that inflate to 20 MiB of `[{},{},…]` or of number arrays, on every route that
//! reads a batch, one at a time and eight at once. The ingest tests assert on what this
//! measures; `cargo xtask bench` reports it for the release build.

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;

use crate::http;

const MIB: f64 = 1024.0 * 1024.0;

/// One hostile request: what it is, where it goes, its body.
#[derive(Debug, Clone)]
pub struct Hostile {
    pub name: &'static str,
    pub path: &'static str,
    pub body: Vec<u8>,
}

/// What one request did to ingest.
#[derive(Debug, Clone)]
pub struct Measured {
    pub name: &'static str,
    pub path: &'static str,
    /// Bytes on the wire.
    pub bytes: usize,
    pub status: u16,
    /// The error code of the JSON answer, empty when there was none.
    pub code: String,
    /// Growth of the peak resident memory over what ingest held before the request, bytes.
    pub peak_growth: u64,
}

/// Everything [`measure`] found.
#[derive(Debug, Clone)]
pub struct HostileReport {
    /// Resident memory before the first hostile request, bytes.
    pub baseline: u64,
    /// Whether the peak could be reset between requests (`clear_refs`); when not, each
    /// request's peak is the highest so far.
    pub peak_resettable: bool,
    pub each: Vec<Measured>,
    /// Eight floods of empty events at once: their statuses, and the peak over the baseline.
    pub eight_at_once: Vec<u16>,
    pub eight_at_once_growth: u64,
    /// The status of an ordinary event sent afterwards.
    pub serves_after: u16,
}

impl HostileReport {
    /// The largest growth of the peak caused by one request, MiB.
    pub fn worst_single_mib(&self) -> f64 {
        self.each
            .iter()
            .map(|measured| measured.peak_growth)
            .max()
            .unwrap_or_default() as f64
            / MIB
    }

    pub fn eight_at_once_mib(&self) -> f64 {
        self.eight_at_once_growth as f64 / MIB
    }

    pub fn baseline_mib(&self) -> f64 {
        self.baseline as f64 / MIB
    }
}

/// Every hostile request, each inflating to `decoded_limit` bytes.
pub fn bodies(decoded_limit: usize) -> Vec<Hostile> {
    let empties = |prefix: &str, suffix: &str| inflating(prefix, "{},", suffix, decoded_limit);
    let numbers = format!(
        r#"{{"event":"e","distinct_id":"u","properties":{{"a":[{}0]}}}},"#,
        "0,".repeat(40_000)
    );
    vec![
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
            body: inflating("[", &numbers, r#"{"event":"e"}]"#, decoded_limit),
        },
        Hostile {
            name: "segment /v1/batch {batch:[{},…]}",
            path: "/v1/batch",
            body: empties(r#"{"writeKey":"ea_none","batch":["#, "{}]}"),
        },
        Hostile {
            name: "segment /v1/b number arrays",
            path: "/v1/b",
            body: inflating(r#"{"batch":["#, &numbers, "{}]}", decoded_limit),
        },
        Hostile {
            name: "segment /v1/track one huge message",
            path: "/v1/track",
            body: inflating(
                r#"{"event":"e","properties":{"a":["#,
                "0,",
                "0]}}",
                decoded_limit,
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
    ]
}

/// Sends every one of [`bodies`] to the ingest at `port` (process `pid`) with `token` as the
/// bearer, one at a time and then eight floods of empty events at once, reading ingest's
/// memory around each; then an ordinary event.
pub fn measure(
    port: u16,
    pid: u32,
    token: &str,
    decoded_limit: usize,
) -> anyhow::Result<HostileReport> {
    let bearer = format!("Bearer {token}");
    let send = |path: &str, body: &[u8]| {
        http::request_with_headers(
            port,
            "POST",
            path,
            &[("content-type", "text/plain"), ("authorization", &bearer)],
            body,
            Duration::from_secs(120),
        )
    };
    let ordinary = serde_json::json!({ "event": "still here" }).to_string();
    // Warm up: what every request allocates once (connections, the JWKS) is in the baseline.
    send("/api/events", ordinary.as_bytes())?;
    let hostile = bodies(decoded_limit);
    let (baseline, _) = memory(pid)?;
    let peak_resettable = reset_peak(pid);
    let mut each = Vec::new();
    for request in &hostile {
        let (before, _) = memory(pid)?;
        reset_peak(pid);
        let answer = send(request.path, &request.body)?;
        let (_, peak) = memory(pid)?;
        let code = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|body| body["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        each.push(Measured {
            name: request.name,
            path: request.path,
            bytes: request.body.len(),
            status: answer.status,
            code,
            peak_growth: peak.saturating_sub(before),
        });
    }

    // Eight at once: the floods of empty events (not the form), each twice.
    reset_peak(pid);
    let floods: Vec<&Hostile> = hostile
        .iter()
        .filter(|request| request.name.contains("[{},…]") && !request.name.contains("form"))
        .cycle()
        .take(8)
        .collect();
    let eight_at_once = std::thread::scope(|scope| {
        let sending: Vec<_> = floods
            .iter()
            .map(|request| scope.spawn(|| send(request.path, &request.body).map(|a| a.status)))
            .collect();
        sending
            .into_iter()
            .map(|sent| {
                sent.join()
                    .map_err(|_| anyhow::anyhow!("a sending thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<u16>>>()
    })?;
    let (_, peak) = memory(pid)?;
    // Over the baseline, not over the memory before: what the earlier requests freed and the
    // allocator kept counts too.
    let eight_at_once_growth = peak.saturating_sub(baseline);
    let serves_after = send("/api/events", ordinary.as_bytes())?.status;
    Ok(HostileReport {
        baseline,
        peak_resettable,
        each,
        eight_at_once,
        eight_at_once_growth,
        serves_after,
    })
}

/// A body that inflates to `prefix`, then `element` repeated, then `suffix`, `total` bytes at
/// most. It is made of gzip members (ingest reads concatenated members, as gzip does), so only
/// a 64 KiB chunk is compressed, and the last member's size trailer understates the whole, as
/// a hostile client's would.
pub fn inflating(prefix: &str, element: &str, suffix: &str, total: usize) -> Vec<u8> {
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
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// `body` as posthog-js sends it with `compression=base64`: a form whose `data` is base64.
fn base64_form(body: &[u8]) -> Vec<u8> {
    let data = base64::engine::general_purpose::STANDARD.encode(body);
    // Base64's own `+`, `/` and `=` are what a form must escape.
    let encoded = data
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("data={encoded}&compression=base64").into_bytes()
}

/// A process's resident memory and its peak, in bytes, from `/proc/<pid>/status`.
pub fn memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let file = format!("/proc/{pid}/status");
    let field = |name: &str| {
        crate::process::proc_kib(&file, name)
            .map(|kib| kib as u64 * 1024)
            .ok_or_else(|| anyhow::anyhow!("no {name} in {file}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak to the current resident memory (`clear_refs` 5), so that the next peak is
/// one request's; false where the kernel does not allow it.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}
