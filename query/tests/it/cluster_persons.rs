//! Persons on the cluster of `cluster`: two ids on different shards linked into one person,
//! whose property was set on the id of the other shard, count once and filter and break down
//! as on one server (links are read on each shard, a person's properties from both).

use std::collections::HashSet;
use std::time::Duration;

use devstack::test::{ServiceHandle, TestCluster};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// What the persons check needs of the cluster test.
pub(crate) struct Cluster<'a> {
    pub(crate) cluster: &'a TestCluster,
    pub(crate) database: &'a str,
    pub(crate) query: &'a ServiceHandle,
    pub(crate) admin: &'a str,
    pub(crate) project: &'a str,
    /// `project_id`, `from` and `to` of the dataset's November.
    pub(crate) scope: &'a str,
}

impl Cluster<'_> {
    /// The distinct ids of the events stored on `server`.
    fn ids_on(&self, server: usize) -> HashSet<String> {
        self.cluster.servers[server]
            .query_in(
                self.database,
                "SELECT DISTINCT distinct_id FROM events_local",
            )
            .expect("ids")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Runs `sql` through server 0 (into the `Distributed` tables).
    fn run(&self, sql: &str) {
        self.cluster.servers[0]
            .query_in(self.database, sql)
            .unwrap_or_else(|err| panic!("{sql}: {err:#}"));
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(self.query.url(path))
            .bearer_auth(self.admin)
            .json(&body)
            .send()
            .await
            .expect("query");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.expect("json")
    }

    async fn get(&self, path: &str) -> Value {
        let response = reqwest::Client::new()
            .get(self.query.url(path))
            .bearer_auth(self.admin)
            .send()
            .await
            .expect("query");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.expect("json")
    }
}

/// Links `user-0` (40 users of one pageview each in November, half of them signing up, a
/// quarter buying) to a user who only viewed a page and whose events are on the other shard,
/// sets `plan` on that user's id, and checks the answers.
pub(crate) async fn persons_across_shards(cluster: &Cluster<'_>) {
    let here = if cluster.ids_on(0).contains("user-0") {
        0
    } else {
        1
    };
    let there = cluster.ids_on(1 - here);
    let other = (1..40)
        .step_by(2)
        .map(|i| format!("user-{i}"))
        .find(|id| there.contains(id))
        .expect("a browsing user on the other shard");
    let project = cluster.project;
    let person = contract::persons::person_id(Uuid::parse_str(project).expect("id"), "user-0");
    for id in ["user-0", other.as_str()] {
        cluster.run(&format!(
            "INSERT INTO person_ids (project_id, distinct_id, person_id, person_key, person_hash, \
             version, is_deleted) SELECT toUUID('{project}'), '{id}', toUUID('{person}'), \
             'user-0', cityHash64('user-0'), 1, 0"
        ));
    }
    cluster.run(&format!(
        "INSERT INTO person_properties SELECT toUUID('{project}'), '{other}', 'plan', 'pro', \
         toDateTime('2026-11-03 00:00:00', 'UTC'), 0, toUUID('{}')",
        Uuid::new_v4()
    ));
    devstack::wait::until("the rows on their shards", Duration::from_secs(30), || {
        let rows = |table: &str| {
            (0..2)
                .map(|server| {
                    cluster.cluster.servers[server]
                        .query_in(
                            cluster.database,
                            &format!("SELECT count() FROM {table}_local"),
                        )
                        .ok()
                        .and_then(|count| count.trim().parse::<u64>().ok())
                        .unwrap_or(0)
                })
                .sum::<u64>()
        };
        rows("person_ids") == 2 && rows("person_properties") == 1
    })
    .expect("links stored");

    let scope = cluster.scope;
    let overview = cluster.get(&format!("/api/query/overview?{scope}")).await;
    assert_eq!(
        overview["figures"]["users"]["value"],
        json!(39.0),
        "{overview}"
    );
    // The person's pageview is on one shard, its signup and purchase on the other.
    let funnel = cluster
        .post(
            &format!("/api/query/funnel?{scope}"),
            json!({
                "steps": [{ "event": "$pageview" }, { "event": "signup" }, { "event": "purchase" }],
                "window_seconds": 7200
            }),
        )
        .await;
    let counts: Vec<u64> = funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["count"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [39, 20, 10], "{funnel}");
    // Each id's periods are gathered on its shard, its person's across both.
    let retention = cluster
        .post(
            &format!("/api/query/retention?{scope}"),
            json!({ "start_event": "$pageview", "return_event": "$pageview",
                    "period": "week", "periods": 4 }),
        )
        .await;
    let sizes: u64 = retention["cohorts"]
        .as_array()
        .expect("cohorts")
        .iter()
        .map(|cohort| cohort["size"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(sizes, 39, "{retention}");
    // Top values kept per day: the ids of each shard, made persons by the links.
    let events = cluster
        .get(&format!("/api/query/top?{scope}&dimension=event"))
        .await;
    let rows: Vec<(Value, Value, Value)> = events["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| (v["value"].clone(), v["count"].clone(), v["users"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            (json!("$pageview"), json!(40), json!(39)),
            (json!("signup"), json!(20), json!(20)),
            (json!("purchase"), json!(10), json!(10)),
        ],
        "{events}"
    );
    let pro = crate::helpers::urlencode(
        &json!([{ "key": "person:plan", "op": "eq", "value": "pro" }]).to_string(),
    );
    let filtered = cluster
        .get(&format!("/api/query/overview?{scope}&filter={pro}"))
        .await;
    // user-0's pageview, signup and purchase, and the other id's pageview.
    assert_eq!(
        filtered["figures"]["events"]["value"],
        json!(4.0),
        "{filtered}"
    );
    assert_eq!(
        filtered["figures"]["users"]["value"],
        json!(1.0),
        "{filtered}"
    );
    let top = cluster
        .get(&format!("/api/query/top?{scope}&dimension=person:plan"))
        .await;
    assert_eq!(
        top["values"][0],
        json!({ "value": "", "count": 66, "users": 38 }),
        "{top}"
    );
    assert_eq!(
        top["values"][1],
        json!({ "value": "pro", "count": 4, "users": 1 }),
        "{top}"
    );
}
