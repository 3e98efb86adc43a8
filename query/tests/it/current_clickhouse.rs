//! The statements query ran, run again on current ClickHouse (chdb-core) holding the same rows.

use crate::helpers::Stack;

/// Every statement query ran above, run again on ClickHouse 18.16 and on current ClickHouse
/// (chdb-core) holding the same rows: the answers are the same.
pub(crate) fn same_answers_on_current_clickhouse(stack: &Stack, sql_log: &std::path::Path) {
    let (server, database) = stack.clickhouse();
    let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
    for statement in sink::schema::statements("default").expect("schema") {
        chdb.query(&statement)
            .expect("the events DDL runs on current ClickHouse");
    }
    // A table of the previous layout (dimensions as `String`) converts there too.
    let previous = sink::schema::Layout::new("previous", None).expect("layout");
    for statement in previous.statements() {
        chdb.query(&statement.replace("LowCardinality(String)", "String"))
            .expect("the previous layout");
    }
    chdb.query(&previous.low_cardinality_alter(sink::schema::LOW_CARDINALITY_COLUMNS))
        .expect("the conversion runs on current ClickHouse");
    let converted = chdb
        .query(
            "SELECT count() FROM system.columns WHERE database = 'previous' AND table = 'events' \
             AND type = 'LowCardinality(String)'",
        )
        .expect("columns");
    assert_eq!(
        converted.trim(),
        sink::schema::LOW_CARDINALITY_COLUMNS.len().to_string()
    );
    // Every row as stored, duplicates of the retried batch included, so FINAL matters on both;
    // and the persons' links and properties the statements resolve ids with.
    for table in ["events", "engagement", "person_ids", "person_properties"] {
        let rows = server
            .query_in(database, &format!("SELECT * FROM {table} FORMAT Values"))
            .expect("rows");
        if !rows.trim().is_empty() {
            chdb.query(&format!("INSERT INTO default.{table} VALUES {rows}"))
                .unwrap_or_else(|err| panic!("{table} rows copied: {err:#}"));
        }
    }
    // The days' change counters count inserts, which were not the same here: copied as they are.
    chdb.query("TRUNCATE TABLE default.event_days")
        .expect("counters emptied");
    let counters = server
        .query_in(database, "SELECT * FROM event_days FORMAT Values")
        .expect("counters");
    if !counters.trim().is_empty() {
        chdb.query(&format!("INSERT INTO default.event_days VALUES {counters}"))
            .expect("counters copied");
    }
    let sorted = |tsv: &str| {
        let mut lines: Vec<&str> = tsv.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    };
    let statements: std::collections::BTreeSet<String> = std::fs::read_to_string(sql_log)
        .expect("the SQL log")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        statements.len() >= 15,
        "{} statements logged",
        statements.len()
    );
    for statement in &statements {
        let old = server
            .query_in(database, statement)
            .unwrap_or_else(|err| panic!("18.16: {err}\n{statement}"));
        let current = chdb
            .query(statement)
            .unwrap_or_else(|err| panic!("current ClickHouse: {err}\n{statement}"));
        assert_eq!(sorted(&old), sorted(&current), "{statement}");
    }
    eprintln!(
        "{} statements gave the same answers on ClickHouse 18.16 and {}",
        statements.len(),
        chdb.query("SELECT version()").unwrap_or_default().trim()
    );
}
