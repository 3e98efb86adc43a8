//! Auth's operational endpoints and migrations against real nats-server and PostgreSQL.

use devstack::test::{
    PostgresDb, TestNats, assert_liveness_and_metrics, spawn_service, wait_for_readiness,
};
use plumbing::config::{HttpConfig, NatsConfig, PostgresConfig};

#[test]
fn auth_migrates_is_ready_and_is_unavailable_when_nats_stops() -> anyhow::Result<()> {
    let mut nats = TestNats::start()?;
    let db = PostgresDb::create()?;
    let config = auth::Config::with_defaults(
        HttpConfig::ephemeral(),
        NatsConfig { url: nats.url() },
        PostgresConfig::local(db.server().port(), &db.name, db.server().password()),
    )?;
    let service = spawn_service("auth", move |listener, shutdown| {
        auth::run(config, listener, shutdown)
    })?;

    let ready = wait_for_readiness(&service, 200)?;
    assert_eq!(ready["checks"]["postgres"], "up", "{ready}");
    let migrated = db.server().psql_in(
        &db.name,
        "SELECT count(*) FROM _sqlx_migrations WHERE success AND version = 1",
    )?;
    assert_eq!(migrated.trim(), "1", "the first migration is recorded");
    let table = db.server().psql_in(
        &db.name,
        "SELECT to_regclass('projection_state') IS NOT NULL",
    )?;
    assert_eq!(table.trim(), "t", "the projection_state table exists");
    assert_liveness_and_metrics(&service, "auth", "auth_logins")?;

    nats.server.stop();
    let unready = wait_for_readiness(&service, 503)?;
    assert_eq!(unready["checks"]["nats"], "down", "{unready}");
    assert_eq!(unready["checks"]["postgres"], "up", "{unready}");
    Ok(())
}
