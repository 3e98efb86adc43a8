//! Ingest's operational endpoints against a real nats-server.

use devstack::stack::TestStack;
use devstack::test::{assert_liveness_and_metrics, wait_for_readiness};

#[test]
fn ingest_is_ready_with_nats_and_unavailable_when_nats_stops() -> anyhow::Result<()> {
    let mut stack = TestStack::builder().ingest().start()?;

    let ready = wait_for_readiness(stack.ingest(), 200)?;
    assert_eq!(ready["checks"]["nats"], "up", "{ready}");
    let metrics = assert_liveness_and_metrics(stack.ingest(), "ingest", "ingest_events")?;
    assert!(
        metrics.contains("ingest_dependency_up{dependency=\"nats\"} 1"),
        "{metrics}"
    );

    stack.nats_mut().server.stop();
    let unready = wait_for_readiness(stack.ingest(), 503)?;
    assert_eq!(unready["status"], "unavailable", "{unready}");
    assert_eq!(unready["checks"]["nats"], "down", "{unready}");
    assert_liveness_and_metrics(stack.ingest(), "ingest", "ingest_events")?;
    Ok(())
}
