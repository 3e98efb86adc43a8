//! Edge's readiness and metrics: ready with its upstreams, unavailable when one stops, and
//! which one only on the internal listener.

use std::time::Duration;

use devstack::stack::{Service, TestStack};
use devstack::test::{get_json, wait_for_readiness};

#[test]
fn edge_is_ready_with_its_upstreams_and_unavailable_when_one_stops_saying_which_only_inside()
-> anyhow::Result<()> {
    let mut stack = TestStack::builder().ingest().auth().query().start()?;
    let (edge, internal) = stack.edge_with_internal(|_| {})?;
    let timeout = Duration::from_secs(10);
    let internal_json = |path: &str| -> anyhow::Result<(u16, serde_json::Value)> {
        let answer = devstack::http::get(internal.port(), path, timeout)?;
        Ok((answer.status, serde_json::from_str(&answer.body)?))
    };

    // The public door says ready and nothing more; the internal listener says what is up.
    let ready = wait_for_readiness(&edge, 200)?;
    assert_eq!(
        ready,
        serde_json::json!({ "service": "edge", "status": "ok" })
    );
    let (status, detailed) = internal_json("/readyz")?;
    assert_eq!(status, 200, "{detailed}");
    for upstream in ["ingest", "auth", "query"] {
        assert_eq!(detailed["checks"][upstream], "up", "{detailed}");
    }
    let (status, alive) = get_json(&edge, "/healthz")?;
    assert_eq!((status, &alive["status"]), (200, &serde_json::json!("ok")));

    // Metrics only inside: the public door answers 404 JSON, not the web app.
    let public_metrics = devstack::http::get(edge.addr.port(), "/metrics", timeout)?;
    assert_eq!(public_metrics.status, 404, "{}", public_metrics.body);
    let refused: serde_json::Value = serde_json::from_str(&public_metrics.body)?;
    assert_eq!(refused["error"]["code"], "not_found", "{refused}");
    let metrics = devstack::http::get(internal.port(), "/metrics", timeout)?;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("# TYPE edge_ui_responses ")
            && metrics
                .body
                .contains("edge_dependency_up{dependency=\"query\"} 1")
            && metrics.body.trim_end().ends_with("# EOF"),
        "{}",
        metrics.body
    );

    // The public may ask as often as it likes: the services behind edge are asked about once a
    // second on its behalf (ingest counts the /healthz calls edge's checks make).
    let healthz_calls = || -> anyhow::Result<f64> {
        let metrics = devstack::http::get(stack.ingest().addr.port(), "/metrics", timeout)?;
        Ok(metrics
            .body
            .lines()
            .filter(|line| {
                line.starts_with("ingest_http_requests_total{")
                    && line.contains("route=\"/healthz\"")
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    };
    let before = healthz_calls()?;
    let started = std::time::Instant::now();
    let mut asked = 0;
    while asked < 50 || started.elapsed() < Duration::from_millis(2_500) {
        assert_eq!(get_json(&edge, "/readyz")?.0, 200);
        asked += 1;
    }
    let calls = healthz_calls()? - before;
    let bound = started.elapsed().as_secs_f64().ceil() + 1.0;
    assert!(
        calls >= 1.0 && calls <= bound,
        "{calls} checks for {asked} public /readyz in {:?}",
        started.elapsed()
    );

    stack.stop(Service::Query)?;
    let unready = wait_for_readiness(&edge, 503)?;
    assert_eq!(
        unready,
        serde_json::json!({ "service": "edge", "status": "unavailable" })
    );
    let (status, detailed) = internal_json("/readyz")?;
    assert_eq!(status, 503, "{detailed}");
    assert_eq!(detailed["checks"]["query"], "down", "{detailed}");
    assert_eq!(detailed["checks"]["ingest"], "up", "{detailed}");
    Ok(())
}
