//! The location and acquisition columns: added to a table of an earlier release where a new
//! table has them, and written from the event's context.

use devstack::test::ClickHouseDb;
use plumbing::config::ClickHouseConfig;

/// The columns this release added to the events table.
const PLACES_AND_ACQUISITION: &[&str] = &[
    "country",
    "region",
    "city",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "channel",
];

/// `create`, the statement that creates the events table, as the release before this one
/// had it: without the location and acquisition columns.
fn previous_release(create: &str) -> String {
    let mut previous = create.to_owned();
    for column in PLACES_AND_ACQUISITION {
        let line = previous
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{column} ")))
            .unwrap_or_else(|| panic!("{column} is a column of the table"))
            .to_owned();
        previous = previous.replace(&format!("{line}\n"), "");
    }
    assert!(!previous.contains("channel"), "{previous}");
    previous
}

/// `DESCRIBE TABLE` of `db`'s events: name and type of each column, in order.
fn described(db: &ClickHouseDb) -> Vec<String> {
    db.server()
        .query(&format!("DESCRIBE TABLE {}.events", db.name))
        .expect("describes")
        .lines()
        .map(|line| line.split('\t').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test]
async fn a_table_without_location_and_acquisition_gains_them_in_the_order_a_new_table_has() {
    let fresh = ClickHouseDb::unique();
    let config = ClickHouseConfig::local(fresh.server().http_port(), &fresh.name);
    sink::schema::apply(&plumbing::clickhouse::server_client(&config), &fresh.name)
        .await
        .expect("a new table");

    let db = ClickHouseDb::unique();
    db.server().create_database(&db.name).expect("database");
    let previous = previous_release(&sink::schema::STATEMENTS[1].replace("{db}", &db.name));
    db.server().query(&previous).expect("previous table");
    db.server()
        .query(&format!(
            "INSERT INTO {}.events (project_id, date, timestamp, event, event_id, distinct_id) \
             VALUES ('00000000-0000-0000-0000-000000000001', today(), now(), 'e', \
             '00000000-0000-0000-0000-000000000002', 'user-1')",
            db.name
        ))
        .expect("old row");
    let config = ClickHouseConfig::local(db.server().http_port(), &db.name);
    let server = plumbing::clickhouse::server_client(&config);
    for _ in 0..2 {
        sink::schema::apply(&server, &db.name)
            .await
            .expect("the columns are added, and applying again changes nothing");
    }
    assert_eq!(described(&db), described(&fresh));
    let row = db
        .server()
        .query_in(
            &db.name,
            "SELECT distinct_id, country, utm_source, channel FROM events",
        )
        .expect("reads");
    assert_eq!(row, "user-1\t\t\t\n", "the old row reads them empty");
}

#[test]
fn current_clickhouse_adds_them_where_a_new_table_has_them_too() {
    let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
    let fresh = sink::schema::Layout::new("fresh", None).expect("layout");
    for statement in fresh.statements() {
        chdb.query(&statement).expect("a new table");
    }
    let previous = sink::schema::Layout::new("previous", None).expect("layout");
    let statements = previous.statements();
    chdb.query(&statements[0]).expect("database");
    chdb.query(&previous_release(&statements[1]))
        .expect("previous table");
    for (column, alter) in sink::schema::column_additions(&previous) {
        if PLACES_AND_ACQUISITION.contains(&column) {
            chdb.query(&alter)
                .unwrap_or_else(|err| panic!("{alter}: {err}"));
        }
    }
    let described = |chdb: &mut devstack::chdb::Chdb, database: &str| {
        chdb.query(&format!("DESCRIBE TABLE {database}.events"))
            .expect("describes")
            .lines()
            .map(|line| line.split('\t').take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        described(&mut chdb, "previous"),
        described(&mut chdb, "fresh")
    );
}
