//! A project's own retention: `sink retention` reads each project's months from the
//! `PROJECT_RETENTION` bucket (auth writes it; the sink's NATS user may only read it) and
//! deletes that project's older events and sessions, nothing of any other project, and moves
//! the project's day counters so cached figures are computed again.

use std::time::Duration;

use async_nats::jetstream;
use devstack::nats::NatsUser;
use devstack::test::{ClickHouseDb, TestNats};
use plumbing::config::ClickHouseConfig;

const KEEPS_ONE_MONTH: &str = "00000000-0000-0000-0000-0000000000a1";
const KEEPS_ALL: &str = "00000000-0000-0000-0000-0000000000b2";

async fn connect(url: &str) -> jetstream::Context {
    let (options, address) = plumbing::streams::connect_options(url);
    let client = options
        .connection_timeout(Duration::from_secs(10))
        .connect(address)
        .await
        .expect("connects");
    jetstream::new(client)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_keeps_only_its_own_months_and_no_other_project_loses_a_row() {
    let nats = TestNats::start().expect("nats starts");
    let db = ClickHouseDb::unique();
    let config = ClickHouseConfig::local(db.server().http_port(), &db.name);
    let server = plumbing::clickhouse::server_client(&config);
    sink::schema::apply(&server, &db.name)
        .await
        .expect("schema");
    let today = time::OffsetDateTime::now_utc().date();
    let old = today - time::Duration::days(70);
    let recent = today - time::Duration::days(3);
    let mut id = 0;
    for project in [KEEPS_ONE_MONTH, KEEPS_ALL] {
        for day in [old, recent] {
            id += 1;
            db.server()
                .query(&format!(
                    "INSERT INTO {db}.events (project_id, date, timestamp, event, event_id, distinct_id, session_id) \
                     VALUES ('{project}', '{day}', '{day} 12:00:00', 'e', '00000000-0000-0000-0000-{id:012}', 'u', 's{id}')",
                    db = db.name
                ))
                .expect("row");
            db.server()
                .query(&format!(
                    "INSERT INTO {db}.engagement (project_id, date, timestamp, event, event_id, distinct_id) \
                     VALUES ('{project}', '{day}', '{day} 12:05:00', '$engagement', \
                     '00000000-0000-0000-0001-{id:012}', 'u')",
                    db = db.name
                ))
                .expect("engagement");
        }
    }
    let counters = |project: &str| {
        db.server()
            .query_in(
                &db.name,
                &format!("SELECT sum(changes) FROM event_days WHERE project_id = '{project}'"),
            )
            .expect("counters")
            .trim()
            .parse::<u64>()
            .expect("a number")
    };
    let before = counters(KEEPS_ONE_MONTH);

    // Nothing set yet: nothing to do.
    let sink_js = connect(&nats.url_for(NatsUser::Sink)).await;
    let client = plumbing::clickhouse::client(&config);
    let layout = sink::schema::Layout::new(&db.name, None).expect("layout");
    let none = sink::retention::projects::apply_all(&sink_js, &client, &layout, today)
        .await
        .expect("no bucket is no retention");
    assert!(none.is_empty());

    // Auth's bucket: one project keeps a month. The sink reads it but may not write it.
    let auth_js = connect(&nats.url_for(NatsUser::Auth)).await;
    let bucket = auth_js
        .create_key_value(jetstream::kv::Config {
            bucket: contract::auth::RETENTION_BUCKET.to_owned(),
            history: 1,
            ..Default::default()
        })
        .await
        .expect("auth creates the bucket");
    bucket.put(KEEPS_ONE_MONTH, "1".into()).await.expect("put");
    let as_sink = sink_js
        .get_key_value(contract::auth::RETENTION_BUCKET)
        .await
        .expect("the sink opens it");
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        as_sink.put(KEEPS_ALL, "1".into()).await
    })
    .await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "the sink may not write a retention"
    );

    let deleted = sink::retention::projects::apply_all(&sink_js, &client, &layout, today)
        .await
        .expect("retention");
    let first_kept = sink::retention::projects::first_day_kept(today, 1);
    assert_eq!(
        deleted,
        [(KEEPS_ONE_MONTH.parse().expect("uuid"), first_kept)]
    );
    let rows = db
        .server()
        .query_in(
            &db.name,
            "SELECT toString(project_id), toString(date) FROM events ORDER BY project_id, date",
        )
        .expect("rows");
    assert_eq!(
        rows,
        format!("{KEEPS_ONE_MONTH}\t{recent}\n{KEEPS_ALL}\t{old}\n{KEEPS_ALL}\t{recent}\n")
    );
    let engaged = db
        .server()
        .query_in(
            &db.name,
            "SELECT toString(project_id), toString(date) FROM engagement ORDER BY project_id, date",
        )
        .expect("engagement");
    assert_eq!(
        engaged, rows,
        "the engagement of the deleted days went with them"
    );
    let sessions = db
        .server()
        .query_in(
            &db.name,
            "SELECT toString(project_id), toString(day) FROM sessions \
             WHERE day < toDate('2100-01-01') GROUP BY project_id, day ORDER BY project_id, day",
        )
        .expect("sessions");
    assert_eq!(
        sessions,
        format!("{KEEPS_ONE_MONTH}\t{recent}\n{KEEPS_ALL}\t{old}\n{KEEPS_ALL}\t{recent}\n"),
        "the sessions of the deleted events went with them"
    );
    assert!(
        counters(KEEPS_ONE_MONTH) > before,
        "the project's days changed"
    );
    let again = sink::retention::projects::apply_all(&sink_js, &client, &layout, today)
        .await
        .expect("retention");
    assert!(again.is_empty(), "nothing more to delete");
}
