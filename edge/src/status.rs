//! The system status (`GET /api/admin/status`, for admins), gathered by edge itself. Edge asks every
//! service's `/readyz` and query's `/api/query/system` (the streams, consumers and ClickHouse)
//! at once, each with a deadline, and answers with whatever came back: a service that does not
//! answer is shown not ready, and a missing part is a sentence in `problems`, never an error.

use std::time::Duration;

use contract::health::{CheckStatus, Health, Status};
use contract::status::{PipelineStatus, ServiceStatus, SystemStatus};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use crate::state::SERVICE;

/// How long a service's `/readyz` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long query may take for its part: it reads each figure within 2 seconds, all at once.
const PIPELINE_TIMEOUT: Duration = Duration::from_secs(5);

/// The system status: every service's readiness (edge's own, as it is answering), and query's
/// figures of the streams, consumers and ClickHouse asked with `forwarded` (the caller's token,
/// request id and trace).
pub(crate) async fn gather(
    client: &reqwest::Client,
    services: [(&str, &str); 4],
    query: &str,
    forwarded: &HeaderMap,
) -> SystemStatus {
    let probes =
        futures_util::future::join_all(services.map(|(name, base)| probe(client, name, base)));
    let (probed, pipeline) = tokio::join!(probes, pipeline(client, query, forwarded));
    // Edge is answering this very request.
    let mut services = vec![ServiceStatus {
        name: SERVICE.to_owned(),
        ready: true,
        detail: None,
    }];
    services.extend(probed);
    let checked_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    SystemStatus::new(checked_at, services, pipeline)
}

/// `name`'s readiness from its `/readyz`: its failing checks when it is not ready.
async fn probe(client: &reqwest::Client, name: &str, base: &str) -> ServiceStatus {
    let url = format!("{}/readyz", base.trim_end_matches('/'));
    let answer = client.get(&url).timeout(PROBE_TIMEOUT).send().await;
    let (ready, detail) = match answer {
        Ok(answer) if answer.status() == StatusCode::OK => (true, None),
        Ok(answer) => {
            let status = answer.status();
            let detail = match answer.json::<Health>().await {
                Ok(health) => not_ready(&health),
                Err(_) => format!("its readiness check answered {status}"),
            };
            (false, Some(detail))
        }
        Err(err) => {
            tracing::warn!(service = name, error = %err, "readiness probe failed");
            let detail = if err.is_timeout() {
                format!("did not answer within {} seconds", PROBE_TIMEOUT.as_secs())
            } else {
                "cannot be reached".to_owned()
            };
            (false, Some(detail))
        }
    };
    ServiceStatus {
        name: name.to_owned(),
        ready,
        detail,
    }
}

/// Why a `/readyz` body says not ready, in words.
fn not_ready(health: &Health) -> String {
    if health.status == Status::ShuttingDown {
        return "shutting down".to_owned();
    }
    let down: Vec<&str> = health
        .checks
        .iter()
        .filter(|(_, check)| **check == CheckStatus::Down)
        .map(|(name, _)| name.as_str())
        .collect();
    if down.is_empty() {
        "not ready".to_owned()
    } else {
        format!("down: {}", down.join(", "))
    }
}

/// Query's part, asked with the caller's token; when query cannot give it, every figure is
/// missing and one sentence says why.
async fn pipeline(client: &reqwest::Client, query: &str, headers: &HeaderMap) -> PipelineStatus {
    let url = format!("{}/api/query/system", query.trim_end_matches('/'));
    let mut request = client.get(&url).timeout(PIPELINE_TIMEOUT);
    // The caller's token, and the request id and trace the request carries, so query's log of
    // this call joins the caller's.
    for name in [
        &header::AUTHORIZATION,
        &plumbing::http::REQUEST_ID,
        &plumbing::http::TRACEPARENT,
    ] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    let answer = match request.send().await {
        Ok(answer) if answer.status() == StatusCode::OK => answer.json::<PipelineStatus>().await,
        Ok(answer) => {
            tracing::warn!(status = %answer.status(), "query refused the system figures");
            return missing("query did not give");
        }
        Err(err) => Err(err),
    };
    answer.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "query's system figures unavailable");
        if err.is_timeout() {
            missing("query did not answer in time with")
        } else {
            missing("query could not be asked for")
        }
    })
}

fn missing(why: &str) -> PipelineStatus {
    PipelineStatus {
        streams: Vec::new(),
        consumers: Vec::new(),
        dlq_messages: None,
        clickhouse: None,
        pending_erasures: Vec::new(),
        problems: vec![format!(
            "{why} the streams, consumers and ClickHouse figures"
        )],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_service_not_ready_is_described_by_its_failing_checks() {
        let health = Health {
            service: "sink".to_owned(),
            status: Status::Unavailable,
            checks: BTreeMap::from([
                ("clickhouse".to_owned(), CheckStatus::Down),
                ("nats".to_owned(), CheckStatus::Up),
            ]),
        };
        assert_eq!(not_ready(&health), "down: clickhouse");
        let stopping = Health {
            status: Status::ShuttingDown,
            ..health
        };
        assert_eq!(not_ready(&stopping), "shutting down");
        assert_eq!(
            missing("query did not give").problems,
            ["query did not give the streams, consumers and ClickHouse figures"]
        );
    }
}
