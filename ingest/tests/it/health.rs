//! Ingest's operational endpoints against a real nats-server.

use devstack::test::{TestNats, assert_liveness_and_metrics, spawn_service, wait_for_readiness};
use plumbing::config::{HttpConfig, NatsConfig};

#[test]
fn ingest_is_ready_with_nats_and_unavailable_when_nats_stops() -> anyhow::Result<()> {
    let mut nats = TestNats::start()?;
    let config = ingest::Config::new(
        HttpConfig::ephemeral(),
        NatsConfig { url: nats.url() },
        ingest::AuthConfig::at("http://127.0.0.1:9".to_owned()),
    );
    let service = spawn_service("ingest", move |listener, shutdown| {
        ingest::run(config, listener, shutdown)
    })?;

    let ready = wait_for_readiness(&service, 200)?;
    assert_eq!(ready["checks"]["nats"], "up", "{ready}");
    let metrics = assert_liveness_and_metrics(&service, "ingest", "ingest_events")?;
    assert!(
        metrics.contains("ingest_dependency_up{dependency=\"nats\"} 1"),
        "{metrics}"
    );

    nats.server.stop();
    let unready = wait_for_readiness(&service, 503)?;
    assert_eq!(unready["status"], "unavailable", "{unready}");
    assert_eq!(unready["checks"]["nats"], "down", "{unready}");
    assert_liveness_and_metrics(&service, "ingest", "ingest_events")?;
    Ok(())
}
