//! Cluster mode (`CLICKHOUSE_CLUSTER`): two ClickHouse 18.16 servers as one cluster of two shards
//! (one replica each, ZooKeeper for the replicated tables and the `ON CLUSTER` DDL), two sinks on
//! the one durable consumer, and query reading the `Distributed` table. Every figure is the one
//! a single server gives for the same events.

use std::collections::HashSet;
use std::time::Duration;

use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{TestCluster, spawn_service, unique_name};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sink::schema::Layout;
use uuid::Uuid;

/// One generated event.
struct Generated {
    id: Uuid,
    user: String,
    event: &'static str,
    at: String,
}

/// Forty users over five days of November 2026 (a pageview each, every second one signing up,
/// every fourth one buying after that), and the first twenty once more in January, the month
/// the retention drops.
fn dataset() -> Vec<Generated> {
    let mut events = Vec::new();
    for i in 0..40u32 {
        let user = format!("user-{i}");
        let day = 2 + i % 5;
        let mut add = |event, at: String| {
            events.push(Generated {
                id: Uuid::new_v4(),
                user: user.clone(),
                event,
                at,
            });
        };
        add("$pageview", format!("2026-11-{day:02}T10:{i:02}:00Z"));
        if i % 2 == 0 {
            add("signup", format!("2026-11-{day:02}T10:{i:02}:20Z"));
        }
        if i % 4 == 0 {
            add("purchase", format!("2026-11-{day:02}T10:{i:02}:40Z"));
        }
        if i < 20 {
            add("$pageview", format!("2026-01-15T09:{i:02}:00Z"));
        }
    }
    events
}

/// A number read from one server's answer.
fn number(server: &devstack::clickhouse::ClickHouse, database: &str, sql: &str) -> u64 {
    server
        .query_in(database, sql)
        .unwrap_or_else(|err| panic!("{sql}: {err:#}"))
        .trim()
        .parse()
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

/// `sink_rows_inserted_total` of a sink.
fn rows_inserted(sink: &devstack::test::ServiceHandle) -> u64 {
    devstack::test::metric(sink, "sink_rows_inserted_total").unwrap_or(0.0) as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_shard_cluster_stores_every_event_once_and_answers_as_one_server_does() {
    let cluster = TestCluster::start(2).expect("zookeeper and two clickhouse servers");
    // Auth and ingest from the stack; the sinks and query are started here on the cluster,
    // which the stack does not run (it runs them on one ClickHouse server).
    let mut stack = TestStack::builder()
        .auth()
        .ingest()
        .start_servers()
        .expect("nats and postgres start");
    let database = unique_name("test");
    // Each sink and query is told about one server of the cluster, as a load balancer would.
    let clickhouse = |server: usize| ClickHouseConfig {
        cluster: Some(cluster.name().to_owned()),
        ..ClickHouseConfig::local(cluster.servers[server].http_port(), &database)
    };

    // Two replicas of the sink on the same durable consumer, with small batches so that both
    // take a share. They need no auth, so they start while auth and ingest do.
    let sinks: Vec<_> = (0..2)
        .map(|server| {
            let config = sink::Config {
                http: HttpConfig::ephemeral(),
                nats: NatsConfig::new(stack.nats().url()),
                clickhouse: clickhouse(server),
                batch: sink::BatchSettings {
                    max_messages: 4,
                    max_wait_ms: 20,
                    ..Default::default()
                },
            };
            spawn_service("sink", move |l, s| sink::run(config, l, s)).expect("sink")
        })
        .collect();
    stack.start_services().expect("auth and ingest start");
    let (auth, ingest, nats) = (stack.auth(), stack.ingest(), stack.nats());
    let query = spawn_service("query", {
        let config = query::Config {
            http: HttpConfig::ephemeral(),
            nats: NatsConfig::new(nats.url()),
            clickhouse: clickhouse(1),
            auth: plumbing::jwt::AuthConfig::at(auth.url("")),
            limits: query::Limits::default(),
            sql_log: None,
        };
        move |l, s| query::run(config, l, s)
    })
    .expect("query");
    // A sink is ready once its `ON CLUSTER` DDL went through on every server, which ClickHouse
    // itself gives up to 180 s (`distributed_ddl_task_timeout`) per statement on a busy
    // machine; a dozen statements queue behind each other.
    for service in [&sinks[0], &sinks[1], &query] {
        devstack::test::wait_for_readiness_within(service, 200, Duration::from_secs(600))
            .expect("ready");
    }
    for server in &cluster.servers {
        let tables = server
            .query(&format!(
                "SELECT name, engine FROM system.tables WHERE database = '{database}' \
                 AND (name LIKE 'events%' OR name LIKE 'sessions%') ORDER BY name FORMAT TSV"
            ))
            .expect("tables");
        assert_eq!(
            tables,
            "events\tDistributed\nevents_local\tReplicatedReplacingMergeTree\n\
             sessions\tDistributed\nsessions_local\tReplicatedAggregatingMergeTree\n\
             sessions_mv\tMaterializedView\n",
            "both servers have the schema, created once ON CLUSTER"
        );
    }

    let http = reqwest::Client::new();
    let admin =
        devstack::test::access_token(auth.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))
            .expect("admin token");
    let created: Value = http
        .post(auth.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Shop", "timezone": "UTC" }))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("json");
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();

    let events = dataset();
    let total = events.len() as u64;
    let body: Vec<Value> = events
        .iter()
        .map(
            |e| json!({ "uuid": e.id, "event": e.event, "distinct_id": e.user, "timestamp": e.at }),
        )
        .collect();
    // In small requests, and everything twice (a client retrying): stored once.
    for _ in 0..2 {
        for chunk in body.chunks(6) {
            let response = http
                .post(ingest.url("/batch/"))
                .json(&json!({ "api_key": key, "batch": chunk }))
                .send()
                .await
                .expect("ingest");
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let shard_rows = |table: &str| -> Vec<u64> {
        cluster
            .servers
            .iter()
            .map(|server| number(server, &database, &format!("SELECT count() FROM {table}")))
            .collect()
    };
    // A sink counts its rows once their insert returned, which is after the shards show the
    // events (the sessions view writes its rows in between).
    devstack::wait::until_async(
        "every event stored on the shards and counted by the sinks",
        Duration::from_secs(30),
        || async {
            shard_rows("events_local").iter().sum::<u64>() == total
                && sinks.iter().map(rows_inserted).sum::<u64>() >= total
        },
    )
    .await
    .expect("stored");
    let per_shard = shard_rows("events_local");
    assert!(
        per_shard.iter().all(|rows| *rows > 0),
        "both shards hold events: {per_shard:?}"
    );
    let inserted: Vec<u64> = sinks.iter().map(rows_inserted).collect();
    assert_eq!(
        inserted.iter().sum::<u64>(),
        total,
        "each event inserted once"
    );
    assert!(
        inserted.iter().all(|rows| *rows > 0),
        "both sinks took a share of the consumer: {inserted:?}"
    );
    // A user's events are on one shard, so every copy of an event is too.
    let users_on = |server: usize| -> HashSet<String> {
        cluster.servers[server]
            .query_in(&database, "SELECT DISTINCT distinct_id FROM events_local")
            .expect("users")
            .lines()
            .map(str::to_owned)
            .collect()
    };
    assert!(
        users_on(0).is_disjoint(&users_on(1)),
        "no user on both shards"
    );

    // A redelivery whose ack was lost writes an event twice, through the Distributed table
    // like the sink: it lands on the same shard, which merges the copies into one.
    let twice = &events[0];
    cluster.servers[0]
        .query_in(
            &database,
            &format!(
                "INSERT INTO events SELECT * FROM events WHERE event_id = '{}'",
                twice.id
            ),
        )
        .expect("a second copy");
    devstack::wait::until_async("the copy on its shard", Duration::from_secs(10), || async {
        shard_rows("events_local").iter().sum::<u64>() == total + 1
    })
    .await
    .expect("copied");
    assert_eq!(
        number(
            &cluster.servers[1],
            &database,
            "SELECT count() FROM events FINAL"
        ),
        total,
        "FINAL over the Distributed table counts the copy once"
    );
    // `OPTIMIZE … ON CLUSTER` fails on 18.16 ("Unknown log entry type"): each shard. A shard
    // busy merging the same parts answers without merging, so it is asked until it did.
    devstack::wait::until_async("the copy merged", Duration::from_secs(60), || async {
        for server in &cluster.servers {
            server
                .query_in(&database, "OPTIMIZE TABLE events_local FINAL")
                .expect("optimize");
        }
        shard_rows("events_local").iter().sum::<u64>() == total
    })
    .await
    .expect("merged");
    assert_eq!(
        shard_rows("events_local"),
        per_shard,
        "the copy merged away"
    );

    // The analytics API: the figures of the dataset.
    let get = |path: String| {
        let http = http.clone();
        let admin = admin.clone();
        let url = query.url(&path);
        async move {
            let response = http
                .get(url)
                .bearer_auth(admin)
                .send()
                .await
                .expect("query");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            response.json::<Value>().await.expect("json")
        }
    };
    let november: Vec<&Generated> = events
        .iter()
        .filter(|e| e.at.starts_with("2026-11"))
        .collect();
    let scope = format!("project_id={project}&from=2026-11-02&to=2026-11-06");
    let overview = get(format!("/api/query/overview?{scope}")).await;
    let figures = &overview["figures"];
    assert_eq!(
        figures["events"]["value"],
        json!(november.len() as f64),
        "{overview}"
    );
    assert_eq!(figures["users"]["value"], json!(40.0), "{overview}");
    assert_eq!(figures["pageviews"]["value"], json!(40.0), "{overview}");
    // Each user's November events are within a minute: one session each, from the sessions
    // the view kept on both shards (the copy above left them as they were).
    assert_eq!(figures["sessions"]["value"], json!(40.0), "{overview}");

    let trends = get(format!(
        "/api/query/trends?{scope}&event=$pageview&interval=day"
    ))
    .await;
    let per_day: Vec<u64> = trends["series"][0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| point["value"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(per_day, [8, 8, 8, 8, 8], "{trends}");
    let uniques = get(format!(
        "/api/query/trends?{scope}&measure=uniques&interval=week"
    ))
    .await;
    let weekly: u64 = uniques["series"][0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| point["value"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(weekly, 40, "{uniques}");

    let response = http
        .post(query.url(&format!("/api/query/funnel?{scope}")))
        .bearer_auth(&admin)
        .json(&json!({
            "steps": [{ "event": "$pageview" }, { "event": "signup" }, { "event": "purchase" }],
            "window_seconds": 7200
        }))
        .send()
        .await
        .expect("funnel");
    assert_eq!(response.status(), StatusCode::OK);
    let funnel: Value = response.json().await.expect("json");
    let counts: Vec<u64> = funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["count"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [40, 20, 10], "{funnel}");
    crate::cluster_persons::persons_across_shards(&crate::cluster_persons::Cluster {
        cluster: &cluster,
        database: &database,
        query: &query,
        admin: &admin,
        project: &project,
        scope: &scope,
    })
    .await;

    // The admin figures add up the parts of both shards.
    let system = get("/api/query/system".to_owned()).await;
    assert_eq!(system["clickhouse"]["rows"], json!(total), "{system}");
    assert_eq!(system["problems"], json!([]), "{system}");

    // Replay through the Distributed table finds every event stored.
    let js =
        async_nats::jetstream::new(plumbing::streams::connect(nats.url()).await.expect("nats"));
    let replayed = sink::replay::replay(
        &js,
        1,
        &sink::clickhouse_client(&clickhouse(0)),
        None,
        None,
        &mut std::io::sink(),
    )
    .await
    .expect("replay");
    assert_eq!(replayed.inserted, 0, "{replayed:?}");
    assert_eq!(replayed.already_stored, total, "{replayed:?}");

    // Retention drops January on both shards, ON CLUSTER, and keeps November.
    let january = |server: usize| {
        number(
            &cluster.servers[server],
            &database,
            "SELECT count() FROM events_local WHERE toYYYYMM(date) = 202601",
        )
    };
    assert!(january(0) > 0 && january(1) > 0, "January on both shards");
    let today = u16::try_from(number(
        &cluster.servers[0],
        &database,
        "SELECT toUInt16(toDate('2026-11-30'))",
    ))
    .expect("a day number");
    let layout = Layout::of(&clickhouse(0)).expect("layout");
    let server_client = plumbing::clickhouse::server_client(&clickhouse(0));
    let dropped = sink::retention::drop_older_than_in(&server_client, &layout, 60, today)
        .await
        .expect("retention");
    assert_eq!(dropped, ["202601"]);
    assert_eq!((january(0), january(1)), (0, 0));
    assert_eq!(
        shard_rows("events_local").iter().sum::<u64>(),
        november.len() as u64
    );

    // A cluster schema of before `user_hash` gains it on every shard and in the Distributed
    // table.
    let older = Layout::new(&unique_name("test"), Some(cluster.name())).expect("layout");
    for statement in older.statements() {
        if statement.contains(".engagement") {
            // Newer than that schema: created by the migration.
            continue;
        }
        let previous = statement
            .replace(
                ",\n        user_hash UInt64 DEFAULT cityHash64(distinct_id)",
                "",
            )
            .replace("LowCardinality(String)", "String");
        cluster.servers[0]
            .query(&previous)
            .expect("previous layout");
    }
    cluster.servers[0]
        .query(&format!(
            "INSERT INTO {}.events_local (project_id, date, timestamp, event, event_id, \
             distinct_id, browser) VALUES ('00000000-0000-0000-0000-000000000001', today(), \
             now(), 'e', '00000000-0000-0000-0000-000000000002', 'user-1', 'Firefox')",
            older.database()
        ))
        .expect("a row of the previous layout");
    sink::schema::apply_layout(&server_client, &older)
        .await
        .expect("migrated");
    sink::schema::apply_layout(&server_client, &older)
        .await
        .expect("and applying again changes nothing");
    for server in &cluster.servers {
        let hashed = server
            .query(&format!(
                "SELECT count() FROM system.columns WHERE database = '{}' \
                 AND name = 'user_hash' AND table IN ('events', 'events_local')",
                older.database()
            ))
            .expect("columns");
        assert_eq!(hashed.trim(), "2", "events_local and events");
        let dimensions = server
            .query(&format!(
                "SELECT table, type FROM system.columns WHERE database = '{}' \
                 AND name = 'browser' AND table IN ('events', 'events_local') ORDER BY table",
                older.database()
            ))
            .expect("columns");
        assert_eq!(
            dimensions, "events\tLowCardinality(String)\nevents_local\tLowCardinality(String)\n",
            "dimensions converted on every shard and in the Distributed table"
        );
    }
    let kept = cluster.servers[0]
        .query(&format!(
            "SELECT distinct_id, browser FROM {}.events_local",
            older.database()
        ))
        .expect("the row");
    assert_eq!(
        kept, "user-1\tFirefox\n",
        "the row's values survive the conversion"
    );

    // The same DDL and parts statement parse on current ClickHouse (chdb has no cluster to run
    // them on; the per-event SQL is the single server's, checked in api.rs).
    let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
    let mut checked = layout.statements();
    checked.extend(sink::schema::session_statements(&layout));
    checked.push(
        query::CLUSTER_EVENTS_PARTS
            .replace("{cluster}", cluster.name())
            .replace('?', &format!("'{database}'")),
    );
    checked.push(format!(
        "ALTER TABLE {database}.events_local ON CLUSTER {} DROP PARTITION 202601",
        cluster.name()
    ));
    for statement in checked {
        let quoted = statement.replace('\\', "\\\\").replace('\'', "\\'");
        chdb.query(&format!("SELECT formatQuery('{quoted}')"))
            .unwrap_or_else(|err| panic!("current ClickHouse: {err:#}\n{statement}"));
    }
    let setting = chdb
        .query("SELECT count() FROM system.settings WHERE name = 'insert_distributed_sync'")
        .expect("settings");
    assert_eq!(
        setting.trim(),
        "1",
        "the setting the sink sends still exists"
    );

    // Pages left (posthog-js's `$pageleave`): stored on the shards through the engagement's
    // Distributed table, each user's on the shard of their events, and no event.
    let leaves: Vec<Value> = ["user-0", "user-1"]
        .iter()
        .map(|user| {
            json!({ "uuid": uuid::Uuid::new_v4(), "event": "$pageleave", "distinct_id": user,
                    "timestamp": events[0].at, "properties": {
                        "$current_url": "https://shop.example/", "$prev_pageview_pathname": "/",
                        "$prev_pageview_duration": 12 } })
        })
        .collect();
    let response = http
        .post(ingest.url("/batch/"))
        .json(&json!({ "api_key": key, "batch": leaves }))
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), StatusCode::OK);
    devstack::wait::until_async(
        "both engagements on the shards",
        Duration::from_secs(30),
        || async { shard_rows("engagement_local").iter().sum::<u64>() == 2 },
    )
    .await
    .expect("stored");
    for (server, _) in cluster.servers.iter().enumerate() {
        let theirs = number(
            &cluster.servers[server],
            &database,
            "SELECT count() FROM engagement_local WHERE distinct_id NOT IN \
             (SELECT distinct_id FROM events_local)",
        );
        assert_eq!(theirs, 0, "an engagement on the shard of its user's events");
    }
    assert_eq!(
        number(
            &cluster.servers[1],
            &database,
            "SELECT count() FROM engagement"
        ),
        2
    );
}
