//! Query's operational endpoints against real nats-server and ClickHouse.

use devstack::stack::TestStack;
use devstack::test::{assert_liveness_and_metrics, wait_for_readiness};

#[test]
fn query_is_ready_and_is_unavailable_when_nats_stops() -> anyhow::Result<()> {
    let mut stack = TestStack::builder().query().start()?;

    let ready = wait_for_readiness(stack.query(), 200)?;
    assert_eq!(ready["checks"]["clickhouse"], "up", "{ready}");
    assert_liveness_and_metrics(stack.query(), "query", "query_queries")?;

    stack.nats_mut().server.stop();
    let unready = wait_for_readiness(stack.query(), 503)?;
    assert_eq!(unready["checks"]["nats"], "down", "{unready}");
    Ok(())
}
