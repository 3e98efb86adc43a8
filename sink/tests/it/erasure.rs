//! Erasure of a tracked person end to end, through edge, on real servers: a person with two
//! merged ids has events in ClickHouse, in `EVENTS_HISTORY` and in the dead letters (a refused
//! event); their export answers every event; `DELETE` by one id answers 202, and once the
//! admin status lists no pending erasure no row and no stream message holds either id, what
//! still arrives of them is dropped, and a replay into a fresh database and a rebuild of the
//! person mapping leave them gone, while the other person keeps every event; an event naming an
//! erased id as its link's other id is dropped too, and what is dropped is acked only once its
//! copy left the history. The statements
//! run on ClickHouse 18.16 and on current ClickHouse alike. An erasure a sink could not finish
//! before it stopped is run by the next sink.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use devstack::stack::{ADMIN, Fault, PASSWORD, Service, TestStack};
use devstack::test::ServiceHandle;
use futures_util::StreamExt as _;
use plumbing::config::ClickHouseConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Long enough for a loaded machine.
const WAIT: Duration = Duration::from_secs(120);

/// The stack, edge in front, the admin's token and a project with its write key.
struct Erasing {
    stack: TestStack,
    edge: ServiceHandle,
    http: reqwest::Client,
    admin: String,
    project: String,
    key: String,
    js: jetstream::Context,
    sql_log: std::path::PathBuf,
    _dir: devstack::test::TempDir,
}

impl Erasing {
    /// Everything behind edge; the sink dead-letters a refused event on its first delivery,
    /// and ClickHouse refuses an event whose `amount` is not a number (an operator's column).
    async fn start() -> Self {
        let dir = devstack::test::TempDir::new("erasure").expect("dir");
        let sql_log = dir.path().join("query.sql");
        let log = sql_log.clone();
        let mut stack = TestStack::builder()
            .everything()
            .configure_sink(|config| config.batch.max_deliver = 1)
            .configure_query(move |config| config.sql_log = Some(log.clone()))
            .start_servers()
            .expect("servers start");
        let (server, db) = stack.clickhouse();
        let config = ClickHouseConfig::local(server.http_port(), db);
        sink::schema::apply(&plumbing::clickhouse::server_client(&config), db)
            .await
            .expect("schema");
        stack.clickhouse_sql(AMOUNT).expect("column added");
        stack.start_services().expect("the services start");
        let edge = stack.edge(|_| {}).expect("edge");
        let admin = devstack::test::access_token(
            edge.addr.port(),
            ADMIN,
            PASSWORD,
            Duration::from_secs(30),
        )
        .expect("the admin signs in");
        let http = reqwest::Client::new();
        let created: Value = http
            .post(edge.url("/api/admin/projects"))
            .bearer_auth(&admin)
            .json(&json!({ "name": "Erasure" }))
            .send()
            .await
            .expect("create project")
            .json()
            .await
            .expect("json");
        let field = |name: &str| created[name].as_str().expect("field").to_owned();
        let js = jetstream::new(
            plumbing::streams::connect(stack.nats().url())
                .await
                .expect("nats"),
        );
        Self {
            project: field("id"),
            key: field("write_key"),
            stack,
            edge,
            http,
            admin,
            js,
            sql_log,
            _dir: dir,
        }
    }

    /// Sends a PostHog batch through edge until ingest knows the project's key.
    async fn send(&self, batch: &[Value]) {
        let body = json!({ "api_key": self.key, "batch": batch });
        devstack::wait::until_async("ingest takes the batch", WAIT, || async {
            self.http
                .post(self.edge.url("/batch/"))
                .json(&body)
                .send()
                .await
                .is_ok_and(|answer| answer.status() == StatusCode::OK)
        })
        .await
        .expect("sent");
    }

    fn sql(&self, sql: &str) -> String {
        self.stack
            .clickhouse_sql(&sql.replace("{project}", &self.project))
            .expect("query")
            .trim()
            .to_owned()
    }

    async fn wait_for(&self, what: &str, sql: &str, expected: &str) {
        devstack::wait::until_async(what, WAIT, || async { self.sql(sql) == expected })
            .await
            .unwrap_or_else(|err| panic!("{err}: {}", self.sql(sql)));
    }

    async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        let answer = self
            .http
            .get(self.edge.url(path))
            .bearer_auth(&self.admin)
            .send()
            .await
            .expect("edge answers");
        let status = answer.status();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    /// Every page of the export of `distinct_id`: the person, and their events.
    async fn export(&self, distinct_id: &str) -> (Value, Vec<Value>) {
        let base = format!(
            "/api/admin/projects/{}/persons/{distinct_id}/export?limit=3",
            self.project
        );
        let (mut events, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let path = match &cursor {
                Some(cursor) => format!("{base}&cursor={cursor}"),
                None => base.clone(),
            };
            let (status, page) = self.admin_get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            events.extend(page["events"].as_array().expect("events").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (page["person"].clone(), events),
            }
        }
    }

    async fn streams_naming(&self, ids: &[&str]) -> Vec<String> {
        streams_naming(&self.js, ids).await
    }
}

/// Every payload a stream holds now.
async fn payloads(js: &jetstream::Context, stream: &str) -> Vec<Vec<u8>> {
    let reader = js
        .get_stream(stream)
        .await
        .expect("stream")
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("reader");
    let mut payloads = Vec::new();
    if reader.cached_info().num_pending == 0 {
        return payloads;
    }
    let mut messages = reader.messages().await.expect("messages");
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_secs(3), messages.next()).await
    {
        payloads.push(message.payload.to_vec());
        if message.info().map_or(true, |info| info.pending == 0) {
            break;
        }
    }
    payloads
}

/// The streams (and the erased ids' bucket) whose messages name one of `ids`.
async fn streams_naming(js: &jetstream::Context, ids: &[&str]) -> Vec<String> {
    let mut naming = Vec::new();
    for stream in [
        "EVENTS",
        "EVENTS_HISTORY",
        "EVENTS_DLQ",
        "PERSONS",
        "KV_ERASED_PERSONS",
    ] {
        let found = payloads(js, stream).await.iter().any(|payload| {
            ids.iter().any(|id| {
                payload
                    .windows(id.len())
                    .any(|window| window == id.as_bytes())
            })
        });
        if found {
            naming.push(stream.to_owned());
        }
    }
    naming
}

/// The operator's column that makes ClickHouse refuse an event whose `amount` is no number.
const AMOUNT: &str = "ALTER TABLE events ADD COLUMN amount UInt32 DEFAULT \
     toUInt32(if(has(prop_keys, 'amount'), prop_values[indexOf(prop_keys, 'amount')], '0'))";

fn event(name: &str, distinct_id: &str, properties: Value) -> Value {
    json!({
        "uuid": Uuid::now_v7(), "event": name, "distinct_id": distinct_id,
        "timestamp": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time"),
        "properties": properties,
    })
}

/// `a`, `b` as SQL strings.
fn listed(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erased_person_leaves_no_row_and_no_message_and_stays_gone_after_replay_and_rebuild() {
    let erasing = Erasing::start().await;
    let tag = Uuid::now_v7().simple().to_string();
    let (anon, user) = (format!("anon-{tag}"), format!("user-{tag}"));
    let (other_anon, other) = (format!("visitor-{tag}"), format!("member-{tag}"));
    let theirs = [anon.as_str(), user.as_str()];
    let others = [other_anon.as_str(), other.as_str()];

    // The person: two pageviews as anon (and the engagement of one), identified as user (with
    // a property), a purchase, and a purchase ClickHouse refuses (dead-lettered). Another
    // person of two ids as well.
    erasing
        .send(&[
            event(
                "$pageview",
                &anon,
                json!({ "$session_id": format!("s-{tag}") }),
            ),
            event("$pageview", &anon, json!({})),
            // The page's engagement as posthog-js tells it when the page closes: no event.
            event(
                "$pageleave",
                &anon,
                json!({ "$prev_pageview_pathname": "/", "$prev_pageview_duration": 4.2 }),
            ),
            event(
                "$identify",
                &user,
                json!({ "$anon_distinct_id": anon, "$set": { "email": "a@example.com" } }),
            ),
            event("purchase", &user, json!({ "amount": "12" })),
            event("purchase", &user, json!({ "amount": "lots" })),
            event("$pageview", &other_anon, json!({})),
            event(
                "$identify",
                &other,
                json!({ "$anon_distinct_id": other_anon, "$set": { "plan": "team" } }),
            ),
            event("purchase", &other, json!({ "amount": "3" })),
        ])
        .await;
    let count_of = |ids: &[&str]| {
        format!(
            "SELECT count() FROM events WHERE project_id = '{{project}}' AND distinct_id IN ({})",
            listed(ids)
        )
    };
    erasing
        .wait_for("their stored events", &count_of(&theirs), "4")
        .await;
    erasing
        .wait_for("the other's events", &count_of(&others), "3")
        .await;
    let engaged = format!(
        "SELECT count() FROM engagement WHERE project_id = '{{project}}' AND distinct_id IN ({})",
        listed(&theirs)
    );
    erasing.wait_for("their engagement", &engaged, "1").await;
    let mapped = |ids: &[&str]| {
        format!(
            "SELECT count() FROM person_ids WHERE project_id = '{{project}}' AND distinct_id IN ({})",
            listed(ids)
        )
    };
    erasing
        .wait_for("both links applied", &mapped(&theirs), "2")
        .await;
    erasing
        .wait_for("both links applied", &mapped(&others), "2")
        .await;
    let project = Uuid::parse_str(&erasing.project).expect("project id");
    devstack::wait::until_async("the refused purchase dead-lettered", WAIT, || async {
        sink::dlq::list(&erasing.js, Some(project))
            .await
            .is_ok_and(|letters| letters.len() == 1)
    })
    .await
    .expect("a dead letter");
    let naming = erasing.streams_naming(&theirs).await;
    for stream in ["EVENTS_HISTORY", "EVENTS_DLQ", "PERSONS"] {
        assert!(
            naming.iter().any(|named| named == stream),
            "{stream}: {naming:?}"
        );
    }

    // Their export, by either id: both ids, the property, every stored event.
    let (person, events) = erasing.export(&anon).await;
    assert_eq!(person["distinct_ids"], json!([anon, user]));
    assert_eq!(person["properties"]["email"], "a@example.com");
    assert_eq!(
        events.len(),
        5,
        "every event and the engagement: {events:?}"
    );
    assert!(
        events
            .iter()
            .all(|event| theirs.contains(&event["distinct_id"].as_str().unwrap_or_default()))
    );
    let (person_by_user, _) = erasing.export(&user).await;
    assert_eq!(person_by_user, person);
    let mut chdb = same_export_on_current_clickhouse(&erasing);

    let sessions_of = |ids: &[&str]| {
        format!(
            "SELECT count() FROM sessions WHERE session_id IN (SELECT session_id FROM events \
             WHERE project_id = '{{project}}' AND distinct_id IN ({}))",
            listed(ids)
        )
    };
    let has_sessions = erasing.sql(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'",
    ) == "1";
    let their_sessions: Vec<String> = erasing
        .sql(&format!(
            "SELECT DISTINCT session_id FROM events WHERE project_id = '{{project}}' \
             AND distinct_id IN ({}) AND session_id != ''",
            listed(&theirs)
        ))
        .lines()
        .map(str::to_owned)
        .collect();
    let other_sessions = has_sessions.then(|| erasing.sql(&sessions_of(&others)));
    let properties_of = |ids: &[&str]| {
        format!(
            "SELECT count() FROM person_properties WHERE project_id = '{{project}}' \
             AND distinct_id IN ({})",
            listed(ids)
        )
    };
    let other_properties = erasing.sql(&properties_of(&others));
    assert_ne!(other_properties, "0");

    erase(&erasing, &user).await;

    // The erasure's deletes each carry their tag (how it waits on its own mutations only).
    assert_eq!(
        erasing.sql(&format!(
            "SELECT count() FROM system.mutations WHERE database = currentDatabase() \
             AND position(command, '{user}') > 0 AND position(command, 'erasure-') = 0"
        )),
        "0"
    );
    assert_ne!(
        erasing.sql(&format!(
            "SELECT count() FROM system.mutations WHERE database = currentDatabase() \
             AND position(command, '{user}') > 0 AND position(command, 'erasure-') > 0"
        )),
        "0"
    );

    // Nothing of theirs is left; the other person keeps everything.
    assert_eq!(erasing.sql(&count_of(&theirs)), "0");
    assert_eq!(erasing.sql(&engaged), "0", "their engagement");
    for table in ["person_properties", "person_ids"] {
        assert_eq!(
            erasing.sql(&format!(
                "SELECT count() FROM {table} WHERE project_id = '{{project}}' AND distinct_id IN ({})",
                listed(&theirs)
            )),
            "0",
            "{table}"
        );
    }
    if has_sessions && !their_sessions.is_empty() {
        assert_eq!(
            erasing.sql(&format!(
                "SELECT count() FROM sessions WHERE session_id IN ({})",
                their_sessions
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            "0"
        );
        assert_eq!(Some(erasing.sql(&sessions_of(&others))), other_sessions);
    }
    assert_eq!(erasing.sql(&count_of(&others)), "3");
    assert_eq!(erasing.sql(&mapped(&others)), "2");
    assert_eq!(erasing.sql(&properties_of(&others)), other_properties);
    assert!(erasing.streams_naming(&theirs).await.is_empty());
    let naming = erasing.streams_naming(&others).await;
    for stream in ["EVENTS_HISTORY", "PERSONS"] {
        assert!(
            naming.iter().any(|named| named == stream),
            "{stream}: {naming:?}"
        );
    }
    let (status, _) = erasing
        .admin_get(&format!(
            "/api/admin/projects/{}/persons/{anon}/export",
            erasing.project
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing is left to export");

    still_gone_after_they_come_back(&erasing, &theirs, &others, &tag).await;
    still_gone_after_a_replay_and_a_rebuild(&erasing, project, &theirs, &others).await;
    erasure_statements_run_on_both(&erasing, &mut chdb, project, &theirs, &their_sessions);
}

/// Erases the person of `distinct_id` through edge (refused without a token, or for an
/// unknown project) and waits until the admin status lists no pending erasure.
async fn erase(erasing: &Erasing, distinct_id: &str) {
    let path = format!(
        "/api/admin/projects/{}/persons/{distinct_id}",
        erasing.project
    );
    let anonymous = erasing
        .http
        .delete(erasing.edge.url(&path))
        .send()
        .await
        .expect("edge answers");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let unknown = erasing
        .http
        .delete(erasing.edge.url(&format!(
            "/api/admin/projects/{}/persons/{distinct_id}",
            Uuid::now_v7()
        )))
        .bearer_auth(&erasing.admin)
        .send()
        .await
        .expect("edge answers");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let answer = erasing
        .http
        .delete(erasing.edge.url(&path))
        .bearer_auth(&erasing.admin)
        .send()
        .await
        .expect("edge answers");
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let accepted: Value = answer.json().await.expect("json");
    assert_eq!(accepted["status"], "pending");
    assert_eq!(accepted["project_id"], erasing.project);
    let erasure_id = accepted["erasure_id"]
        .as_str()
        .expect("erasure id")
        .to_owned();
    devstack::wait::until_async("the erasure is done", WAIT, || async {
        let (status, answer) = erasing.admin_get("/api/admin/status").await;
        status == StatusCode::OK
            && answer["pending_erasures"]
                .as_array()
                .is_some_and(|pending| {
                    pending
                        .iter()
                        .all(|erasure| erasure["erasure_id"] != erasure_id.as_str())
                })
            && answer["problems"].as_array().is_some_and(Vec::is_empty)
    })
    .await
    .expect("the erasure is done");
}

/// Events and a link of the erased ids sent again are dropped, and their messages deleted; so
/// is another id's `$identify` naming an erased id as its anonymous one. Once the sink acked
/// them, the history holds no copy of them.
async fn still_gone_after_they_come_back(
    erasing: &Erasing,
    theirs: &[&str],
    others: &[&str],
    tag: &str,
) {
    let (newcomer, stranger) = (format!("newcomer-{tag}"), format!("stranger-{tag}"));
    erasing
        .send(&[
            event("$pageview", theirs[0], json!({})),
            event(
                "$identify",
                theirs[1],
                json!({ "$anon_distinct_id": newcomer }),
            ),
            event(
                "$identify",
                &stranger,
                json!({ "$anon_distinct_id": theirs[0] }),
            ),
            event("$pageview", others[1], json!({})),
        ])
        .await;
    let count = |ids: &[&str]| {
        format!(
            "SELECT count() FROM events WHERE project_id = '{{project}}' AND distinct_id IN ({})",
            listed(ids)
        )
    };
    erasing
        .wait_for("the other's new event", &count(others), "4")
        .await;
    devstack::wait::until_async("the links consumer is idle", WAIT, || async {
        let Ok(mut consumer) = erasing
            .js
            .get_consumer_from_stream::<consumer::pull::Config, _, _>("sink-persons", "PERSONS")
            .await
        else {
            return false;
        };
        consumer
            .info()
            .await
            .is_ok_and(|info| info.num_pending == 0 && info.num_ack_pending == 0)
    })
    .await
    .expect("idle");
    devstack::wait::until_async("the events consumer is idle", WAIT, || async {
        let Ok(mut consumer) = erasing
            .js
            .get_consumer_from_stream::<consumer::pull::Config, _, _>("sink-clickhouse", "EVENTS")
            .await
        else {
            return false;
        };
        consumer
            .info()
            .await
            .is_ok_and(|info| info.num_pending == 0 && info.num_ack_pending == 0)
    })
    .await
    .expect("idle");
    // Acked only once their copies left the history: nothing to wait for.
    let history = payloads(&erasing.js, "EVENTS_HISTORY").await;
    assert!(
        !history.iter().any(|payload| {
            theirs.iter().any(|id| {
                payload
                    .windows(id.len())
                    .any(|window| window == id.as_bytes())
            })
        }),
        "a copy of an erased id's event is in the history after its ack"
    );
    assert_eq!(erasing.sql(&count(theirs)), "0");
    assert_eq!(
        erasing.sql(&format!(
            "SELECT count() FROM events WHERE project_id = '{{project}}' \
             AND (distinct_id = '{stranger}' OR has(prop_values, '{}'))",
            theirs[0]
        )),
        "0",
        "no row names an erased id"
    );
    assert_eq!(
        erasing.sql(&format!(
            "SELECT count() FROM person_ids WHERE project_id = '{{project}}' \
             AND distinct_id IN ({}, '{newcomer}', '{stranger}')",
            listed(theirs)
        )),
        "0"
    );
    devstack::wait::until_async("their new messages deleted", WAIT, || async {
        erasing.streams_naming(theirs).await.is_empty()
    })
    .await
    .expect("no stream names them");
}

/// `sink replay` into a fresh database brings back the other person's events only, and a
/// rebuild of the person mapping their links only.
async fn still_gone_after_a_replay_and_a_rebuild(
    erasing: &Erasing,
    project: Uuid,
    theirs: &[&str],
    others: &[&str],
) {
    let (server, db) = erasing.stack.clickhouse();
    let fresh = format!("{db}_replayed");
    let config = ClickHouseConfig::local(server.http_port(), &fresh);
    let server_client = plumbing::clickhouse::server_client(&config);
    sink::schema::apply(&server_client, &fresh)
        .await
        .expect("schema");
    server.query_in(&fresh, AMOUNT).expect("column added");
    let replayed = sink::replay::replay(
        &erasing.js,
        1,
        &sink::clickhouse_client(&config),
        Some(project),
        None,
        &mut std::io::sink(),
    )
    .await
    .expect("replayed");
    assert_eq!(replayed.inserted, 4, "{replayed:?}");
    let count = |ids: &[&str]| {
        server
            .query_in(
                &fresh,
                &format!(
                    "SELECT count() FROM events WHERE distinct_id IN ({})",
                    listed(ids)
                ),
            )
            .expect("count")
            .trim()
            .to_owned()
    };
    assert_eq!(
        (count(theirs), count(others)),
        ("0".to_owned(), "4".to_owned())
    );

    let (_, db) = erasing.stack.clickhouse();
    let live = ClickHouseConfig::local(server.http_port(), db);
    sink::persons::rebuild_persons(
        &erasing.js,
        &plumbing::clickhouse::server_client(&live),
        &sink::schema::Layout::of(&live).expect("layout"),
        Duration::from_millis(200),
    )
    .await
    .expect("rebuilt");
    let mapping = "SELECT distinct_id FROM person_ids FINAL WHERE project_id = '{project}' \
         ORDER BY distinct_id";
    let mut expected: Vec<&str> = others.to_vec();
    expected.sort_unstable();
    erasing
        .wait_for("the mapping rebuilt", mapping, &expected.join("\n"))
        .await;
}

/// The export's statements (the SQL log so far) give the same answers on ClickHouse 18.16 and
/// on current ClickHouse (chdb-core) holding the same rows; the chdb session is kept for
/// [`erasure_statements_run_on_both`].
fn same_export_on_current_clickhouse(erasing: &Erasing) -> devstack::chdb::Chdb {
    let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
    for statement in sink::schema::statements("default").expect("schema") {
        chdb.query(&statement)
            .expect("the schema runs on current ClickHouse");
    }
    chdb.query(&AMOUNT.replace("ALTER TABLE events", "ALTER TABLE default.events"))
        .expect("the column");
    for table in ["events", "engagement", "person_ids", "person_properties"] {
        let rows = erasing.sql(&format!("SELECT * FROM {table} FORMAT Values"));
        if !rows.is_empty() {
            chdb.query(&format!("INSERT INTO default.{table} VALUES {rows}"))
                .expect("rows copied");
        }
    }
    let (server, db) = erasing.stack.clickhouse();
    let log = std::fs::read_to_string(&erasing.sql_log).expect("the SQL log");
    let statements: std::collections::BTreeSet<&str> = log.lines().collect();
    assert!(statements.len() >= 4, "{statements:?}");
    let sorted = |tsv: &str| {
        let mut lines: Vec<&str> = tsv.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    };
    for statement in statements {
        let old = server
            .query_in(db, statement)
            .unwrap_or_else(|err| panic!("18.16: {err}\n{statement}"));
        let current = chdb
            .query(statement)
            .unwrap_or_else(|err| panic!("current ClickHouse: {err}\n{statement}"));
        assert_eq!(sorted(&old), sorted(&current), "{statement}");
    }
    chdb
}

/// The erasure's statements run on ClickHouse 18.16 (on the replayed database) and on current
/// ClickHouse (holding the person's rows), and leave no row of theirs on either.
fn erasure_statements_run_on_both(
    erasing: &Erasing,
    chdb: &mut devstack::chdb::Chdb,
    project: Uuid,
    theirs: &[&str],
    sessions: &[String],
) {
    let (server, db) = erasing.stack.clickhouse();
    let fresh = format!("{db}_replayed");
    let ids: Vec<String> = theirs.iter().map(|id| (*id).to_owned()).collect();
    let sessions = if sessions.is_empty() {
        vec!["none".to_owned()]
    } else {
        sessions.to_vec()
    };
    let left = |table: &str| {
        format!(
            "SELECT count() FROM {{db}}.{table} WHERE distinct_id IN ({})",
            listed(theirs)
        )
    };
    let default = sink::schema::Layout::new("default", None).expect("layout");
    for statement in sink::erasure::statements(&default, project, &ids, &sessions) {
        chdb.query(&statement)
            .unwrap_or_else(|err| panic!("current ClickHouse: {err}\n{statement}"));
    }
    let replayed = sink::schema::Layout::new(&fresh, None).expect("layout");
    for statement in sink::erasure::statements(&replayed, project, &ids, &sessions) {
        server
            .query(&statement)
            .unwrap_or_else(|err| panic!("18.16: {err}\n{statement}"));
    }
    for table in ["events", "person_ids", "person_properties"] {
        devstack::wait::until("current ClickHouse deleted them", WAIT, || {
            chdb.query(&left(table).replace("{db}", "default"))
                .is_ok_and(|answer| answer.trim() == "0")
        })
        .unwrap_or_else(|err| panic!("{err}: {table}"));
        let on_old = server
            .query(&left(table).replace("{db}", &fresh))
            .expect("count");
        assert_eq!(on_old.trim(), "0", "{table}");
    }
}

/// A sink that stops with an erasure in hand (ClickHouse down, so it could not finish) hands it
/// back unacked, and the next sink runs it to the end once ClickHouse is back.
#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_a_stopped_sink_could_not_finish_is_run_by_the_next_one() {
    let mut stack = TestStack::builder()
        .auth()
        .ingest()
        .sink()
        .query()
        .fault(Fault::ClickHouseOutage)
        .start_servers()
        .expect("servers start");
    let project = Uuid::now_v7();
    let js = crate::common::prepare_streams(stack.nats(), project, crate::common::KEY).await;
    stack.start_services().expect("ingest and the sink start");
    let tag = Uuid::now_v7().simple().to_string();
    let (anon, user, other) = (
        format!("anon-{tag}"),
        format!("user-{tag}"),
        format!("other-{tag}"),
    );
    let batch = json!({ "api_key": crate::common::KEY, "batch": [
        event("$pageview", &anon, json!({})),
        event("$identify", &user, json!({ "$anon_distinct_id": anon })),
        event("$pageview", &other, json!({})),
    ]});
    let sent = reqwest::Client::new()
        .post(stack.ingest().url("/batch/"))
        .json(&batch)
        .send()
        .await
        .expect("ingest answers");
    assert_eq!(sent.status(), StatusCode::OK);
    let count = |stack: &TestStack, sql: &str| {
        stack
            .clickhouse_sql(sql)
            .map(|answer| answer.trim().to_owned())
            .unwrap_or_default()
    };
    let stored = "SELECT count() FROM events";
    let linked = "SELECT count() FROM person_ids";
    devstack::wait::until_async("stored and linked", WAIT, || async {
        count(&stack, stored) == "3" && count(&stack, linked) == "2"
    })
    .await
    .expect("stored and linked");

    stack.stop_clickhouse().expect("ClickHouse stops");
    let erasure = contract::persons::Erasure {
        erasure_id: Uuid::now_v7(),
        project_id: project,
        distinct_id: anon.clone(),
        requested_by: Uuid::now_v7(),
        requested_at: time::OffsetDateTime::now_utc(),
    };
    js.publish(
        contract::streams::person_erase_subject(&project.to_string()),
        serde_json::to_vec(&erasure).expect("json").into(),
    )
    .await
    .expect("published")
    .await
    .expect("stored on PERSONS");
    let in_hand = || async {
        let Ok(mut consumer) = js
            .get_consumer_from_stream::<consumer::pull::Config, _, _>("sink-persons", "PERSONS")
            .await
        else {
            return None;
        };
        consumer
            .info()
            .await
            .ok()
            .map(|info| (info.num_ack_pending, info.ack_floor.stream_sequence))
    };
    devstack::wait::until_async("the erasure in hand", WAIT, || async {
        in_hand().await.is_some_and(|(pending, _)| pending == 1)
    })
    .await
    .expect("the sink holds the erasure");
    // The admin status (query's part of it) lists it, without the id.
    let admin = devstack::test::access_token(
        stack.auth().addr.port(),
        ADMIN,
        PASSWORD,
        Duration::from_secs(30),
    )
    .expect("the admin signs in");
    let figures: Value = reqwest::Client::new()
        .get(stack.query().url("/api/query/system"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("query answers")
        .json()
        .await
        .expect("json");
    assert_eq!(
        figures["pending_erasures"],
        json!([{
            "erasure_id": erasure.erasure_id,
            "project_id": project,
            "requested_at": erasure.requested_at.format(&time::format_description::well_known::Rfc3339).expect("time"),
        }]),
        "{figures}"
    );
    stack.stop(Service::Sink).expect("the sink stops");
    assert_eq!(
        in_hand().await.map(|(_, floor)| floor),
        Some(1),
        "the stopped sink did not ack the erasure"
    );

    stack.restart_clickhouse().expect("ClickHouse is back");
    stack.restart(Service::Sink).expect("another sink starts");
    devstack::wait::until_async("the erasure done", WAIT, || async {
        streams_naming(&js, &[&anon, &user]).await.is_empty()
            && count(&stack, stored) == "1"
            && count(&stack, linked) == "0"
    })
    .await
    .unwrap_or_else(|err| panic!("{err}: {} events left", count(&stack, stored)));
    assert_eq!(
        count(&stack, "SELECT distinct_id FROM events"),
        other,
        "the other person keeps their event"
    );
}
