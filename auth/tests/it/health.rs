//! Auth's operational endpoints and migrations against real nats-server and PostgreSQL.

use devstack::stack::TestStack;
use devstack::test::{assert_liveness_and_metrics, wait_for_readiness};

#[test]
fn auth_migrates_is_ready_and_is_unavailable_when_nats_stops() -> anyhow::Result<()> {
    let mut stack = TestStack::builder()
        .configure_auth(|config| config.first_admin = None)
        .start()?;

    let ready = wait_for_readiness(stack.auth(), 200)?;
    assert_eq!(ready["checks"]["postgres"], "up", "{ready}");
    let (server, db) = stack.postgres();
    let migrated = server.psql_in(
        db,
        "SELECT count(*) FROM _sqlx_migrations WHERE success AND version = 1",
    )?;
    assert_eq!(migrated.trim(), "1", "the first migration is recorded");
    let table = server.psql_in(db, "SELECT to_regclass('projection_state') IS NOT NULL")?;
    assert_eq!(table.trim(), "t", "the projection_state table exists");
    assert_liveness_and_metrics(stack.auth(), "auth", "auth_logins")?;

    stack.nats_mut().server.stop();
    let unready = wait_for_readiness(stack.auth(), 503)?;
    assert_eq!(unready["checks"]["nats"], "down", "{unready}");
    assert_eq!(unready["checks"]["postgres"], "up", "{unready}");
    Ok(())
}
