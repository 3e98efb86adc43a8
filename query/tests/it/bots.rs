//! Bots: the events ingest flags from a crawler's user agent are left out of every analysis
//! (overview, trends, top values, the explorer, funnel, retention, catalogue and the live
//! feed), and count again with `include_bots=true`.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::Stack;

const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// One visit, the same for the person and the crawler: home, pricing and a signup on
/// 2026-11-02, home again the next day. Its user agent is the one posthog-js sends.
fn visit(distinct_id: &str, agent: &str) -> Vec<Value> {
    [
        ("$pageview", "/home", "2026-11-02T10:00:00Z"),
        ("$pageview", "/pricing", "2026-11-02T10:05:00Z"),
        ("signup", "/pricing", "2026-11-02T10:06:00Z"),
        ("$pageview", "/home", "2026-11-03T10:00:00Z"),
    ]
    .into_iter()
    .map(|(event, path, at)| {
        json!({
            "event": event, "distinct_id": distinct_id, "timestamp": at,
            "properties": { "$current_url": format!("https://shop.example{path}"), "$raw_user_agent": agent },
        })
    })
    .collect()
}

/// What each analysis says over the visits' days, with or without bots.
async fn figures(stack: &Stack, admin: &str, scope: &str) -> BTreeMap<&'static str, Value> {
    let get = |path: String| async move {
        let (status, body) = stack.get(Some(admin), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    };
    let post = |path: &'static str, request: Value| async move {
        let response = stack
            .http
            .post(stack.query().url(&format!("{path}?{scope}")))
            .bearer_auth(admin)
            .json(&request)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json::<Value>().await.expect("json")
    };
    let mut figures = BTreeMap::new();
    let overview = get(format!("/api/query/overview?{scope}")).await;
    figures.insert(
        "overview events",
        overview["figures"]["events"]["value"].clone(),
    );
    figures.insert(
        "overview users",
        overview["figures"]["users"]["value"].clone(),
    );
    let trends = get(format!("/api/query/trends?{scope}&interval=day")).await;
    figures.insert("trends total", trends["series"][0]["total"].clone());
    let top = get(format!("/api/query/top?{scope}&dimension=path")).await;
    figures.insert("top paths", top["values"].clone());
    let page = get(format!("/api/query/events?{scope}")).await;
    let mut who: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["distinct_id"].as_str())
        .collect();
    who.sort_unstable();
    figures.insert("explorer", json!(who));
    let funnel = post(
        "/api/query/funnel",
        json!({ "steps": [{ "event": "$pageview" }, { "event": "signup" }], "window_seconds": 3600 }),
    )
    .await;
    let steps: Vec<&Value> = funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| &s["count"])
        .collect();
    figures.insert("funnel", json!(steps));
    let retention = post(
        "/api/query/retention",
        json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "day", "periods": 2 }),
    )
    .await;
    figures.insert("retention", retention["cohorts"][0]["returned"].clone());
    let catalog = get(format!("/api/query/catalog?{scope}")).await;
    figures.insert("catalog", catalog["events"].clone());
    for answer in [
        &overview, &trends, &top, &page, &funnel, &retention, &catalog,
    ] {
        assert_eq!(
            answer["include_bots"],
            json!(scope.contains("include_bots=true"))
        );
    }
    figures
}

/// The figures of `visitors`, each of whom made one [`visit`].
fn expected(visitors: &[&str]) -> BTreeMap<&'static str, Value> {
    let n = visitors.len();
    BTreeMap::from([
        ("overview events", json!(4.0 * n as f64)),
        ("overview users", json!(n as f64)),
        ("trends total", json!(4 * n)),
        (
            "top paths",
            json!([
                { "value": "/home", "count": 2 * n, "users": n },
                { "value": "/pricing", "count": 2 * n, "users": n },
            ]),
        ),
        (
            "explorer",
            json!(visitors.iter().flat_map(|v| [v; 4]).collect::<Vec<_>>()),
        ),
        ("funnel", json!([n, n])),
        ("retention", json!([n, n])),
        (
            "catalog",
            json!([{ "event": "$pageview", "count": 3 * n }, { "event": "signup", "count": n }]),
        ),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn every_analysis_leaves_bots_out_unless_asked_to_include_them() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "Crawled", "timezone": "UTC" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();
    let mut batch = visit("visitor", BROWSER);
    batch.extend(visit("crawler", GOOGLEBOT));
    stack.send_batch(&key, &batch).await;

    // Ingest flagged the crawler's events, and only those.
    let (server, database) = stack.clickhouse();
    devstack::wait::until("the events stored", Duration::from_secs(60), || {
        server
            .query_in(database, "SELECT uniqExact(event_id) FROM events")
            .is_ok_and(|count| count.trim() == batch.len().to_string())
    })
    .expect("stored");
    let flags = server
        .query_in(
            database,
            "SELECT distinct_id, max(is_bot), min(is_bot) FROM events GROUP BY distinct_id ORDER BY distinct_id",
        )
        .expect("flags");
    assert_eq!(flags.trim(), "crawler\t1\t1\nvisitor\t0\t0");

    let scope = format!("project_id={project}&from=2026-11-02&to=2026-11-03");
    assert_eq!(
        figures(&stack, &admin, &scope).await,
        expected(&["visitor"])
    );
    let with_bots = format!("{scope}&include_bots=true");
    assert_eq!(
        figures(&stack, &admin, &with_bots).await,
        expected(&["crawler", "visitor"])
    );
    let (status, body) = stack
        .get(
            Some(&admin),
            &format!("/api/query/overview?{scope}&include_bots=maybe"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    live_feeds(&stack, &admin, &project, &key).await;
    crate::current_clickhouse::same_answers_on_current_clickhouse(&stack, &sql_log);
}

/// An open live feed and what it has sent so far.
struct Feed {
    response: reqwest::Response,
    received: String,
}

impl Feed {
    async fn open(stack: &Stack, admin: &str, query: &str) -> Self {
        let response = stack
            .http
            .get(stack.query().url(&format!("/api/query/live?{query}")))
            .bearer_auth(admin)
            .send()
            .await
            .expect("live");
        assert_eq!(response.status(), StatusCode::OK);
        let mut feed = Self {
            response,
            received: String::new(),
        };
        // The first count comes at once: the subscription is open.
        feed.until("event: active_users").await;
        feed
    }

    /// Reads until the feed has sent `text`.
    async fn until(&mut self, text: &str) {
        let read = tokio::time::timeout(Duration::from_secs(30), async {
            while !self.received.contains(text) {
                match self.response.chunk().await {
                    Ok(Some(chunk)) => self.received.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return,
                }
            }
        })
        .await;
        assert!(
            read.is_ok() && self.received.contains(text),
            "{text} not in {}",
            self.received
        );
    }
}

/// The live feed: a crawler's event, then a person's; the default feed shows the person's
/// alone and counts one active user, the feed with bots shows both and counts two.
async fn live_feeds(stack: &Stack, admin: &str, project: &str, key: &str) {
    let mut people = Feed::open(stack, admin, &format!("project_id={project}")).await;
    let mut everyone = Feed::open(
        stack,
        admin,
        &format!("project_id={project}&include_bots=true"),
    )
    .await;
    let (crawl, look) = (Uuid::new_v4(), Uuid::new_v4());
    // One after the other: ingest has published the crawler's event before the person's.
    for (id, who, agent) in [(crawl, "crawler", GOOGLEBOT), (look, "visitor", BROWSER)] {
        let event = json!({ "uuid": id, "event": "$pageview", "distinct_id": who, "properties": { "$raw_user_agent": agent } });
        stack.send_batch(key, &[event]).await;
    }
    people.until(&look.to_string()).await;
    assert!(!people.received.contains(&crawl.to_string()));
    everyone.until(&crawl.to_string()).await;
    everyone.until(&look.to_string()).await;
    // Once stored, the active users: the person alone, or both.
    people.until("{\"count\":1}").await;
    everyone.until("{\"count\":2}").await;
    assert!(!people.received.contains(&crawl.to_string()));
}
