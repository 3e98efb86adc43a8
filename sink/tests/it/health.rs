//! The sink's operational endpoints and schema against real nats-server and ClickHouse.

use devstack::stack::TestStack;
use devstack::test::{ClickHouseDb, assert_liveness_and_metrics, wait_for_readiness};
use plumbing::config::ClickHouseConfig;

#[test]
fn sink_creates_its_table_is_ready_and_is_unavailable_when_nats_stops() -> anyhow::Result<()> {
    let mut stack = TestStack::builder()
        .configure_sink(|config| config.batch = sink::BatchSettings::default())
        .start()?;

    let ready = wait_for_readiness(stack.sink(), 200)?;
    assert_eq!(ready["checks"]["clickhouse"], "up", "{ready}");
    assert_eq!(ready["checks"]["nats"], "up", "{ready}");
    let (server, db) = stack.clickhouse();
    let exists = server.query(&format!("EXISTS TABLE {db}.events"))?;
    assert_eq!(
        exists.trim(),
        "1",
        "the events table exists in the test's database"
    );
    let engine = server.query(&format!(
        "SELECT engine FROM system.tables WHERE database = '{db}' AND name = 'events'"
    ))?;
    assert_eq!(engine.trim(), "ReplacingMergeTree");
    assert_liveness_and_metrics(stack.sink(), "sink", "sink_rows_inserted")?;

    stack.nats_mut().server.stop();
    let unready = wait_for_readiness(stack.sink(), 503)?;
    assert_eq!(unready["checks"]["nats"], "down", "{unready}");
    assert_eq!(unready["checks"]["clickhouse"], "up", "{unready}");
    Ok(())
}

#[tokio::test]
async fn an_events_table_of_an_older_layout_is_reported_not_written() {
    let db = ClickHouseDb::unique();
    db.server().create_database(&db.name).expect("database");
    db.server()
        .query(&format!(
            "CREATE TABLE {}.events (event_id UUID) ENGINE = MergeTree ORDER BY event_id",
            db.name
        ))
        .expect("old table");
    let config = ClickHouseConfig::local(db.server().http_port(), &db.name);
    let err = sink::schema::apply(&plumbing::clickhouse::server_client(&config), &db.name)
        .await
        .expect_err("an old layout is refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("lacks the columns") && message.contains("prop_keys"),
        "{message}"
    );
}

#[tokio::test]
async fn a_table_of_the_previous_release_gains_user_hash_and_low_cardinality_dimensions_keeping_its_rows()
 {
    let db = ClickHouseDb::unique();
    db.server().create_database(&db.name).expect("database");
    // The layout as released before `user_hash`, with one row already stored.
    let previous = sink::schema::STATEMENTS[1]
        .replace("{db}", &db.name)
        .replace(
            ",\n        user_hash UInt64 MATERIALIZED cityHash64(distinct_id)",
            "",
        )
        .replace("LowCardinality(String)", "String");
    assert!(!previous.contains("user_hash"), "{previous}");
    db.server().query(&previous).expect("previous table");
    db.server()
        .query(&format!(
            "INSERT INTO {}.events (project_id, date, timestamp, event, event_id, distinct_id, \
             path, browser) VALUES ('00000000-0000-0000-0000-000000000001', today(), now(), 'e', \
             '00000000-0000-0000-0000-000000000002', 'user-1', '/pricing', 'Firefox')",
            db.name
        ))
        .expect("old row");
    let config = ClickHouseConfig::local(db.server().http_port(), &db.name);
    let server = plumbing::clickhouse::server_client(&config);
    sink::schema::apply(&server, &db.name)
        .await
        .expect("the column is added");
    sink::schema::apply(&server, &db.name)
        .await
        .expect("and applying again changes nothing");
    let hashed = db
        .server()
        .query_in(
            &db.name,
            "SELECT user_hash = cityHash64('user-1') FROM events",
        )
        .expect("reads");
    assert_eq!(hashed.trim(), "1", "the old row is hashed on read");
    // Its dimensions are stored as LowCardinality now, the old row unchanged.
    let types = db
        .server()
        .query(&format!(
            "SELECT name, type FROM system.columns WHERE database = '{}' AND table = 'events' \
             AND name IN ('path', 'browser', 'event', 'url') ORDER BY name",
            db.name
        ))
        .expect("columns");
    assert_eq!(
        types,
        "browser\tLowCardinality(String)\nevent\tString\npath\tLowCardinality(String)\nurl\tString\n"
    );
    let row = db
        .server()
        .query_in(&db.name, "SELECT distinct_id, path, browser FROM events")
        .expect("reads");
    assert_eq!(row, "user-1\t/pricing\tFirefox\n");
}

#[tokio::test]
async fn retention_drops_the_months_entirely_older_than_the_age_kept() {
    let db = ClickHouseDb::unique();
    let config = ClickHouseConfig::local(db.server().http_port(), &db.name);
    let server = plumbing::clickhouse::server_client(&config);
    sink::schema::apply(&server, &db.name)
        .await
        .expect("schema");
    for (day, id) in [
        ("2026-07-15", 5),
        ("2026-08-15", 1),
        ("2026-10-05", 2),
        ("2026-10-31", 3),
        ("2026-11-02", 4),
    ] {
        db.server()
            .query(&format!(
                "INSERT INTO {}.events (project_id, date, timestamp, event, event_id, distinct_id) \
                 VALUES ('00000000-0000-0000-0000-000000000001', '{day}', '{day} 12:00:00', 'e', \
                 '00000000-0000-0000-0000-00000000000{id}', 'u')",
                db.name
            ))
            .expect("row");
    }
    // Engagements of August and October, and of June, which holds no event: June goes too.
    for (day, id) in [("2026-06-20", 6), ("2026-08-15", 7), ("2026-10-31", 8)] {
        db.server()
            .query(&format!(
                "INSERT INTO {}.engagement (project_id, date, timestamp, event, event_id, distinct_id) \
                 VALUES ('00000000-0000-0000-0000-000000000001', '{day}', '{day} 12:00:00', \
                 '$engagement', '00000000-0000-0000-0000-00000000000{id}', 'u')",
                db.name
            ))
            .expect("engagement");
    }
    // A run cut short after July's events but before their counters: July is found again by
    // the counters' parts.
    db.server()
        .query(&format!(
            "ALTER TABLE {}.events DROP PARTITION 202607",
            db.name
        ))
        .expect("July's events gone");
    let today = db
        .server()
        .query("SELECT toUInt16(toDate('2026-11-30'))")
        .expect("day")
        .trim()
        .parse::<u16>()
        .expect("a day number");
    // 30 days kept: everything from 31 October on. June to August go; October keeps its 31st,
    // so it stays whole.
    let dropped = sink::retention::drop_older_than(&server, &db.name, 30, today)
        .await
        .expect("retention");
    assert_eq!(dropped, ["202606", "202607", "202608"]);
    let engaged = db
        .server()
        .query_in(
            &db.name,
            "SELECT toString(date) FROM engagement ORDER BY date",
        )
        .expect("engagement");
    assert_eq!(
        engaged, "2026-10-31\n",
        "the same months of engagement went"
    );
    let left = db
        .server()
        .query_in(&db.name, "SELECT count() FROM events")
        .expect("count");
    assert_eq!(left.trim(), "3");
    // The same months of the day counters go; the fill's mark (2100) stays.
    let counted = db
        .server()
        .query_in(
            &db.name,
            "SELECT toString(date) FROM event_days GROUP BY date ORDER BY date",
        )
        .expect("days");
    assert_eq!(counted, "2026-10-05\n2026-10-31\n2026-11-02\n2100-01-01\n");
    let again = sink::retention::drop_older_than(&server, &db.name, 30, today)
        .await
        .expect("retention");
    assert!(again.is_empty(), "nothing more to drop");
}
