//! Which errors of a ClickHouse insert are about its rows, so that the same insert fails
//! every time (the sink splits the batch and dead-letters the rows that fail on their own), and
//! which are about the server, which retrying the same insert outlasts.

/// ClickHouse refused the data itself (it could not parse or convert a value, or the rows
/// span too many partitions), as opposed to being unreachable, overloaded or misconfigured,
/// which retrying the same insert outlasts. A rejected batch is split until the rows that fail
/// on their own are found, so it is never retried as it is.
pub(crate) fn is_rejection(err: &clickhouse::error::Error) -> bool {
    // Exception codes of ClickHouse about the values of a row: CANNOT_PARSE_TEXT,
    // CANNOT_PARSE_QUOTED_STRING, CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_READ_ALL_DATA,
    // CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND,
    // CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER, INCORRECT_DATA, CANNOT_READ_ARRAY_FROM_TEXT,
    // TOO_LARGE_STRING_SIZE, SIZES_OF_ARRAYS_DOESNT_MATCH.
    const ROW_CODES: &[u32] = &[6, 26, 27, 33, 38, 41, 53, 69, 70, 72, 117, 130, 131, 190];
    match err {
        clickhouse::error::Error::BadResponse(text) => {
            match plumbing::clickhouse::exception_code(text) {
                Some(TOO_MANY_PARTS) => spans_too_many_partitions(text),
                Some(code) => ROW_CODES.contains(&code),
                None => false,
            }
        }
        _ => false,
    }
}

/// TOO_MANY_PARTS: ClickHouse answers it both when the table has too many active parts (merges
/// are behind the inserts: transient, the same insert succeeds later) and when the rows of one
/// INSERT fall into more partitions than `max_partitions_per_insert_block` (about the rows:
/// the same insert fails every time). Only the message tells them apart.
const TOO_MANY_PARTS: u32 = 252;

/// The TOO_MANY_PARTS text is the one about an INSERT spanning too many partitions. The sink
/// writes one month (partition) per insert, so this means the table is partitioned more
/// finely than the sink knows; smaller inserts still get through.
fn spans_too_many_partitions(text: &str) -> bool {
    text.contains("Too many partitions for single INSERT block")
        || text.contains("max_partitions_per_insert_block")
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumbing::clickhouse::exception_code;

    #[test]
    fn only_clickhouse_complaints_about_values_count_as_rejections() {
        let error = |text: &str| clickhouse::error::Error::BadResponse(text.to_owned());
        assert_eq!(
            exception_code("Code: 27. DB::Exception: Cannot parse input"),
            Some(27)
        );
        assert!(is_rejection(&error(
            "Code: 27. DB::Exception: Cannot parse input"
        )));
        // Memory limit, unknown table: the next attempt can succeed.
        assert!(!is_rejection(&error(
            "Code: 241. DB::Exception: Memory limit"
        )));
        assert!(!is_rejection(&error(
            "Code: 60. DB::Exception: Table doesn't exist"
        )));
        assert!(!is_rejection(&error("502 Bad Gateway")));
        assert!(!is_rejection(&clickhouse::error::Error::TimedOut));
    }

    /// The two TOO_MANY_PARTS messages of ClickHouse 26.9 (chdb-core 26.9.2.1), word for word:
    /// an INSERT of 150 months into a table partitioned by month, and an INSERT into a table
    /// at its `parts_to_throw_insert`. A server's HTTP answer appends its version.
    const TOO_MANY_PARTITIONS: &str = "Code: 252. DB::Exception: Too many partitions for single \
        INSERT block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' \
        setting. Large number of partitions is a common misconception. It will lead to severe \
        negative performance impact, including slow server startup, slow INSERT queries and slow \
        SELECT queries. Recommended total number of partitions for a table is under 1000..10000. \
        Please note, that partitioning is not intended to speed up SELECT queries (ORDER BY key is \
        sufficient to make range queries fast). Partitions are intended for data manipulation \
        (DROP PARTITION, etc). (TOO_MANY_PARTS)";
    const TOO_MANY_ACTIVE_PARTS: &str = "Code: 252. DB::Exception: Too many parts (2 with \
        average size of 337.00 B) in table 'd.p (19a3314c-77d4-4ba8-a448-cda9a57d7548)'. Merges \
        are processing significantly slower than inserts. (TOO_MANY_PARTS)";

    #[test]
    fn too_many_partitions_in_one_insert_is_about_the_rows_and_too_many_parts_is_not() {
        let error = |text: &str| clickhouse::error::Error::BadResponse(text.to_owned());
        assert_eq!(exception_code(TOO_MANY_PARTITIONS), Some(TOO_MANY_PARTS));
        assert_eq!(exception_code(TOO_MANY_ACTIVE_PARTS), Some(TOO_MANY_PARTS));
        assert!(is_rejection(&error(TOO_MANY_PARTITIONS)));
        assert!(!is_rejection(&error(TOO_MANY_ACTIVE_PARTS)));
        let version = " (version 26.9.2.1 (official build))\n";
        assert!(is_rejection(&error(&format!(
            "{TOO_MANY_PARTITIONS}{version}"
        ))));
        assert!(!is_rejection(&error(&format!(
            "{TOO_MANY_ACTIVE_PARTS}{version}"
        ))));
        // ClickHouse 19.x to 21.x, which printed the code with a comma.
        assert!(is_rejection(&error(
            "Code: 252, e.displayText() = DB::Exception: Too many partitions for single INSERT \
             block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' \
             setting."
        )));
        assert!(!is_rejection(&error(
            "Code: 252, e.displayText() = DB::Exception: Too many parts (300). Merges are \
             processing significantly slower than inserts."
        )));
    }

    /// The pinned texts are still what current ClickHouse answers: both TOO_MANY_PARTS
    /// exceptions provoked on chdb, the first by the insert of the finding (150 months into
    /// the sink's own table), are told apart.
    #[test]
    fn current_clickhouse_still_words_both_too_many_parts_answers_as_pinned() {
        let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
        for statement in crate::schema::statements("default").expect("schema") {
            chdb.query(&statement).expect("the events DDL");
        }
        // ClickHouse's own text, as the HTTP client would carry it.
        let refused = |result: anyhow::Result<String>| {
            let text = result.expect_err("refused").to_string();
            text.trim_start_matches("chdb: ").to_owned()
        };
        let error = |text: &str| clickhouse::error::Error::BadResponse(text.to_owned());
        let spanning = refused(chdb.query(
            "INSERT INTO default.events (project_id, date, timestamp, event, event_id) \
             SELECT generateUUIDv4(), addMonths(toDate('2013-06-01'), number), \
             toDateTime(addMonths(toDate('2013-06-01'), number)), 'imported', generateUUIDv4() \
             FROM numbers(150)",
        ));
        assert_eq!(spanning, TOO_MANY_PARTITIONS);
        assert!(is_rejection(&error(&spanning)));

        for statement in [
            "CREATE TABLE default.busy (x UInt8) ENGINE = MergeTree ORDER BY x \
             SETTINGS parts_to_throw_insert = 2, parts_to_delay_insert = 1, max_delay_to_insert = 0",
            "SYSTEM STOP MERGES default.busy",
            "INSERT INTO default.busy VALUES (1)",
            "INSERT INTO default.busy VALUES (2)",
        ] {
            chdb.query(statement)
                .expect("setting up a table at its parts limit");
        }
        let busy = refused(chdb.query("INSERT INTO default.busy VALUES (3)"));
        assert!(
            busy.starts_with("Code: 252. DB::Exception: Too many parts (2 with"),
            "{busy}"
        );
        assert!(!is_rejection(&error(&busy)));
    }
}
