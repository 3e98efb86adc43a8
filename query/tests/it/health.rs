//! Query's operational endpoints against real nats-server and ClickHouse.

use devstack::test::{
    ClickHouseDb, TestNats, assert_liveness_and_metrics, spawn_service, wait_for_readiness,
};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig};

#[test]
fn query_is_ready_and_is_unavailable_when_nats_stops() -> anyhow::Result<()> {
    let mut nats = TestNats::start()?;
    let db = ClickHouseDb::unique();
    db.server().create_database(&db.name)?;
    let config = query::Config {
        http: HttpConfig::ephemeral(),
        nats: NatsConfig { url: nats.url() },
        clickhouse: ClickHouseConfig::local(db.server().http_port(), &db.name),
        auth: plumbing::jwt::AuthConfig::at("http://127.0.0.1:9".to_owned()),
        limits: query::Limits::default(),
        sql_log: None,
    };
    let service = spawn_service("query", move |listener, shutdown| {
        query::run(config, listener, shutdown)
    })?;

    let ready = wait_for_readiness(&service, 200)?;
    assert_eq!(ready["checks"]["clickhouse"], "up", "{ready}");
    assert_liveness_and_metrics(&service, "query", "query_queries")?;

    nats.server.stop();
    let unready = wait_for_readiness(&service, 503)?;
    assert_eq!(unready["checks"]["nats"], "down", "{unready}");
    Ok(())
}
