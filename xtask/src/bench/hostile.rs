//! The bench's report of hostile bodies against the release ingest: each request's answer and
//! the growth of ingest's peak resident memory (measured by `devstack::hostile`).

use devstack::hostile::HostileReport;
use serde_json::{Value, json};

const MIB: f64 = 1024.0 * 1024.0;

/// The report's JSON part.
pub(crate) fn json(report: &HostileReport) -> Value {
    json!({
        "baseline_rss_mib": report.baseline_mib(),
        "peak_resettable": report.peak_resettable,
        "requests": report.each.iter().map(|m| json!({
            "name": m.name,
            "path": m.path,
            "bytes": m.bytes,
            "status": m.status,
            "code": m.code,
            "peak_growth_mib": m.peak_growth as f64 / MIB,
        })).collect::<Vec<_>>(),
        "worst_single_peak_growth_mib": report.worst_single_mib(),
        "eight_at_once": report.eight_at_once,
        "eight_at_once_peak_over_baseline_mib": report.eight_at_once_mib(),
        "serves_after": report.serves_after,
    })
}

/// The report's markdown section.
pub(crate) fn markdown(report: &HostileReport, decoded_limit: usize) -> String {
    let rows: String = report
        .each
        .iter()
        .map(|m| {
            format!(
                "| {} | {} | {} {} | +{:.1} |\n",
                m.name,
                m.bytes,
                m.status,
                m.code,
                m.peak_growth as f64 / MIB
            )
        })
        .collect();
    let bound = 8.0 * (decoded_limit as f64 / MIB + 16.0);
    format!(
        "## Hostile bodies (release ingest, each inflating to {:.0} MiB)\n\n\
Ingest's resident memory before them: {:.1} MiB. Peak growth per request{}; limit 64 MiB.\n\n\
| request | bytes on the wire | answer | peak RSS growth, MiB |\n|---|---|---|---|\n{rows}\n\
Eight floods at once: {:?}, peak {:.1} MiB over the baseline (limit {bound:.0} MiB); an ordinary event afterwards: {}.\n\n",
        decoded_limit as f64 / MIB,
        report.baseline_mib(),
        if report.peak_resettable {
            " (the peak reset before each)"
        } else {
            " (cumulative: the kernel refused to reset the peak)"
        },
        report.eight_at_once,
        report.eight_at_once_mib(),
        report.serves_after,
    )
}
