//! The analytics API over a known dataset sent through the real ingest and sink: every answer
//! is compared with the figure computed here from the generated events, in the project's time
//! zone (Europe/Berlin, with an event just after local midnight).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use devstack::test::{
    ClickHouseDb, PostgresDb, ServiceHandle, TestNats, spawn_service, wait_for_readiness,
};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig, PostgresConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

/// One generated event.
#[derive(Debug, Clone)]
struct Generated {
    id: Uuid,
    user: String,
    event: &'static str,
    at: Timestamp,
    path: &'static str,
    plan: &'static str,
    /// Minutes after the user's first event, sent as a number property.
    minutes: i64,
}

/// Twelve users over six days, some with a second session, some signing up, three coming back
/// two days later, plus one night owl whose pageview at 23:30 UTC is already the next day in
/// Berlin.
fn dataset() -> Vec<Generated> {
    let berlin = TimeZone::get("Europe/Berlin").expect("zone");
    let mut events = Vec::new();
    for i in 0..12u32 {
        let day = 2 + (i % 6) as i8;
        let base = jiff::civil::date(2026, 11, day)
            .at(9, 0, 0, 0)
            .to_zoned(berlin.clone())
            .expect("time")
            .timestamp();
        let user = format!("user-{i}");
        let plan = if i % 3 == 0 { "pro" } else { "free" };
        let mut add = |event, minutes: i64, path| {
            events.push(Generated {
                id: Uuid::new_v4(),
                user: user.clone(),
                event,
                at: base + jiff::SignedDuration::from_mins(minutes),
                path,
                plan,
                minutes,
            });
        };
        add("$pageview", 0, "/home");
        add(
            "$pageview",
            10,
            if i % 2 == 0 { "/pricing" } else { "/docs" },
        );
        if i % 4 == 0 {
            add("signup", 12, "/pricing");
        }
        if i % 3 == 0 {
            // Forty minutes later: a second session, of one event.
            add("$pageview", 50, "/home");
        }
        if [1, 3, 4].contains(&i) {
            // Back two days later, in the evening.
            add("$pageview", 2 * 24 * 60 + 9 * 60, "/home");
        }
    }
    events.push(Generated {
        id: Uuid::new_v4(),
        user: "night-owl".to_owned(),
        event: "$pageview",
        at: "2026-11-03T23:30:00Z".parse().expect("time"),
        path: "/blog",
        plan: "free",
        minutes: 0,
    });
    events
}

struct Stack {
    _nats: TestNats,
    _pg: PostgresDb,
    _ch: ClickHouseDb,
    auth: ServiceHandle,
    ingest: ServiceHandle,
    _sink: ServiceHandle,
    query: ServiceHandle,
    http: reqwest::Client,
}

impl Stack {
    fn start() -> Self {
        Self::start_with(None)
    }

    /// With every statement query runs appended to `sql_log`.
    fn start_with(sql_log: Option<std::path::PathBuf>) -> Self {
        let nats = TestNats::start().expect("nats");
        let pg = PostgresDb::create().expect("postgres");
        let ch = ClickHouseDb::unique();
        let auth = spawn_service("auth", {
            let mut config = auth::Config::with_defaults(
                HttpConfig::ephemeral(),
                NatsConfig { url: nats.url() },
                PostgresConfig::local(pg.server().port(), &pg.name, pg.server().password()),
            )
            .expect("config");
            config.first_admin = Some((
                "admin@example.com".to_owned(),
                plumbing::config::Secret::new(PASSWORD),
            ));
            move |l, s| auth::run(config, l, s)
        })
        .expect("auth");
        let ingest = spawn_service("ingest", {
            let config = ingest::Config::new(
                HttpConfig::ephemeral(),
                NatsConfig { url: nats.url() },
                ingest::AuthConfig::at(auth.url("")),
            );
            move |l, s| ingest::run(config, l, s)
        })
        .expect("ingest");
        let sink = spawn_service("sink", {
            let config = sink::Config {
                http: HttpConfig::ephemeral(),
                nats: NatsConfig { url: nats.url() },
                clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
                batch: sink::BatchSettings {
                    max_wait_ms: 50,
                    ..Default::default()
                },
            };
            move |l, s| sink::run(config, l, s)
        })
        .expect("sink");
        let query = spawn_service("query", {
            let config = query::Config {
                http: HttpConfig::ephemeral(),
                nats: NatsConfig { url: nats.url() },
                clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
                auth: plumbing::jwt::AuthConfig::at(auth.url("")),
                limits: query::Limits::default(),
                sql_log: sql_log.clone(),
            };
            move |l, s| query::run(config, l, s)
        })
        .expect("query");
        for service in [&auth, &ingest, &sink, &query] {
            wait_for_readiness(service, 200).expect("ready");
        }
        Self {
            _nats: nats,
            _pg: pg,
            _ch: ch,
            auth,
            ingest,
            _sink: sink,
            query,
            http: reqwest::Client::new(),
        }
    }

    fn token(&self, email: &str) -> String {
        devstack::test::access_token(
            self.auth.addr.port(),
            email,
            PASSWORD,
            Duration::from_secs(30),
        )
        .expect("logged in")
    }

    async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut request = self.http.get(self.query.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("query answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Sessions of `events`: per user, split where two events are more than 30 minutes apart;
/// returns (sessions, sessions of one event).
fn sessions(events: &[&Generated]) -> (u64, u64) {
    let mut by_user: HashMap<&str, Vec<i64>> = HashMap::new();
    for event in events {
        by_user
            .entry(&event.user)
            .or_default()
            .push(event.at.as_second());
    }
    let (mut total, mut bounced) = (0, 0);
    for times in by_user.values_mut() {
        times.sort_unstable();
        let mut size = 1;
        for pair in times.windows(2) {
            if pair[1] - pair[0] > 1800 {
                total += 1;
                bounced += u64::from(size == 1);
                size = 0;
            }
            size += 1;
        }
        total += 1;
        bounced += u64::from(size == 1);
    }
    (total, bounced)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_matches_the_figures_computed_from_the_generated_events() {
    let logs = devstack::test::TempDir::new("query-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let created: Value = stack
        .http
        .post(stack.auth.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Shop", "timezone": "Europe/Berlin" }))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("json");
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();

    let events = dataset();
    let batch: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "uuid": e.id, "event": e.event, "distinct_id": e.user,
                "timestamp": e.at.to_string(),
                "properties": { "$current_url": format!("https://shop.example{}", e.path), "plan": e.plan, "minutes": e.minutes },
            })
        })
        .collect();
    for _ in 0..2 {
        // Sent twice: a client retry, counted once.
        let response = stack
            .http
            .post(stack.ingest.url("/batch/"))
            .json(&json!({ "api_key": key, "batch": batch }))
            .send()
            .await
            .expect("ingest");
        assert_eq!(response.status(), StatusCode::OK);
    }

    let scope = format!("project_id={project}&from=2026-11-02&to=2026-11-08");
    // The query layer counts every event once, as soon as the sink stored them.
    let expected_total = events.len() as f64;
    devstack::wait::until_async("the events counted", Duration::from_secs(30), || async {
        let (_, body) = stack
            .get(Some(&admin), &format!("/api/query/overview?{scope}"))
            .await;
        body["figures"]["events"]["value"].as_f64() == Some(expected_total)
    })
    .await
    .expect("counted");

    // Overview.
    let (status, overview) = stack
        .get(Some(&admin), &format!("/api/query/overview?{scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    let all: Vec<&Generated> = events.iter().collect();
    let users: HashSet<&str> = events.iter().map(|e| e.user.as_str()).collect();
    let pageviews = events.iter().filter(|e| e.event == "$pageview").count();
    let (session_count, bounced) = sessions(&all);
    let figures = &overview["figures"];
    assert_eq!(figures["users"]["value"], json!(users.len() as f64));
    assert_eq!(figures["pageviews"]["value"], json!(pageviews as f64));
    assert_eq!(figures["sessions"]["value"], json!(session_count as f64));
    assert_eq!(
        figures["bounce_rate"]["value"],
        json!(bounced as f64 / session_count as f64)
    );
    assert_eq!(figures["events"]["previous"], json!(0.0));
    assert_eq!(overview["range"]["from"], "2026-11-01T23:00:00Z");
    assert_eq!(overview["range"]["to"], "2026-11-08T23:00:00Z");

    // Trends: pageviews per Berlin day, every day present.
    let berlin = TimeZone::get("Europe/Berlin").expect("zone");
    let mut per_day: BTreeMap<String, u64> = (2..=8)
        .map(|d| (format!("2026-11-{d:02}T00:00:00+01:00"), 0))
        .collect();
    for event in events.iter().filter(|e| e.event == "$pageview") {
        let day = event.at.to_zoned(berlin.clone()).date();
        *per_day.entry(format!("{day}T00:00:00+01:00")).or_default() += 1;
    }
    assert_eq!(
        per_day["2026-11-04T00:00:00+01:00"], 5,
        "the night owl counts on the 4th"
    );
    let (status, trends) = stack
        .get(
            Some(&admin),
            &format!("/api/query/trends?{scope}&event=$pageview&interval=day"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trends}");
    let points: BTreeMap<String, u64> = trends["series"][0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            (
                p["t"].as_str().unwrap_or_default().to_owned(),
                p["value"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(points, per_day);

    // Sum and average of a number property per day, compared with the (empty) week before.
    let (status, sums) = stack
        .get(
            Some(&admin),
            &format!(
                "/api/query/trends?{scope}&measure=sum&property=minutes&interval=day&compare=true"
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sums}");
    let mut minutes_per_day: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for event in &events {
        let day = event.at.to_zoned(berlin.clone()).date();
        let entry = minutes_per_day
            .entry(format!("{day}T00:00:00+01:00"))
            .or_default();
        entry.0 += event.minutes;
        entry.1 += 1;
    }
    for point in sums["series"][0]["points"].as_array().expect("points") {
        let t = point["t"].as_str().unwrap_or_default();
        let expected = minutes_per_day.get(t).map_or(0, |(sum, _)| *sum);
        assert_eq!(point["value"].as_f64(), Some(expected as f64), "{t}");
    }
    let previous = sums["previous_series"][0]["points"]
        .as_array()
        .expect("previous");
    assert_eq!(previous.len(), 7);
    assert!(previous.iter().all(|p| p["value"].as_f64() == Some(0.0)));
    assert_eq!(sums["previous_range"]["to"], "2026-11-01T23:00:00Z");
    let (status, averages) = stack
        .get(
            Some(&admin),
            &format!("/api/query/trends?{scope}&measure=avg&property=minutes&interval=day"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{averages}");
    for point in averages["series"][0]["points"].as_array().expect("points") {
        let t = point["t"].as_str().unwrap_or_default();
        let expected = minutes_per_day
            .get(t)
            .map_or(0.0, |(sum, n)| *sum as f64 / *n as f64);
        let got = point["value"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (got - expected).abs() < 1e-9,
            "{t}: {got} against {expected}"
        );
    }

    // Trends of unique users broken down by plan, top 1 and "other".
    let (status, by_plan) = stack
        .get(
            Some(&admin),
            &format!("/api/query/trends?{scope}&measure=uniques&breakdown=property:plan&limit=1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{by_plan}");
    // Daily uniques: one per user and Berlin day.
    let daily_uniques = |plan: &str| {
        events
            .iter()
            .filter(|e| e.plan == plan)
            .map(|e| (e.user.as_str(), e.at.to_zoned(berlin.clone()).date()))
            .collect::<HashSet<_>>()
            .len()
    };
    let series = by_plan["series"].as_array().expect("series");
    assert_eq!(series.len(), 2, "{by_plan}");
    assert_eq!(series[0]["label"], "free");
    assert_eq!(series[1]["label"], "other");
    assert_eq!(series[0]["total"], json!(daily_uniques("free")));
    assert_eq!(series[1]["total"], json!(daily_uniques("pro")));

    // Top paths with counts and unique users.
    let (status, top) = stack
        .get(
            Some(&admin),
            &format!("/api/query/top?{scope}&dimension=path&limit=2"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{top}");
    let mut paths: HashMap<&str, (u64, HashSet<&str>)> = HashMap::new();
    for event in &events {
        let entry = paths.entry(event.path).or_default();
        entry.0 += 1;
        entry.1.insert(&event.user);
    }
    let mut ranked: Vec<(&str, u64, usize)> = paths
        .iter()
        .map(|(path, (count, users))| (*path, *count, users.len()))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let expected: Vec<Value> = ranked
        .iter()
        .take(2)
        .map(|(path, count, users)| json!({ "value": path, "count": count, "users": users }))
        .collect();
    assert_eq!(top["values"], json!(expected));

    // Filters: a property equal to a value, a path containing text (any case), a number.
    let filtered = |filter: Value| {
        let filter = filter.to_string();
        let scope = scope.clone();
        let admin = admin.clone();
        let stack = &stack;
        async move {
            let (status, body) = stack
                .get(
                    Some(&admin),
                    &format!("/api/query/overview?{scope}&filter={}", urlencode(&filter)),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{filter}: {body}");
            body["figures"]["events"]["value"].as_f64().unwrap_or(-1.0) as usize
        }
    };
    assert_eq!(
        filtered(json!([{ "key": "property:plan", "op": "eq", "value": "pro" }])).await,
        events.iter().filter(|e| e.plan == "pro").count()
    );
    assert_eq!(
        filtered(json!([{ "key": "path", "op": "contains", "value": "PRIC" }])).await,
        events.iter().filter(|e| e.path == "/pricing").count()
    );
    assert_eq!(
        filtered(json!([
            { "key": "property:minutes", "op": "gte", "value": 10 },
            { "key": "event", "op": "neq", "value": "signup" }
        ]))
        .await,
        events
            .iter()
            .filter(|e| e.minutes >= 10 && e.event != "signup")
            .count()
    );
    assert_eq!(
        filtered(json!([{ "key": "property:coupon", "op": "set" }])).await,
        0
    );

    // Explorer: pages of 4, newest first, every event exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = stack
            .get(
                Some(&admin),
                &format!("/api/query/events?{scope}&limit=4&cursor={cursor}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for event in page["events"].as_array().expect("events") {
            seen.push((
                event["timestamp"].as_str().unwrap_or_default().to_owned(),
                event["event_id"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    // Newest first (events of the same second in ClickHouse's UUID order).
    let times: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);
    let ids: HashSet<String> = seen.iter().map(|(_, id)| id.clone()).collect();
    let generated: HashSet<String> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(seen.len(), events.len());
    assert_eq!(ids, generated);

    // Funnel: home, then pricing, then signup, within an hour of the first step.
    let funnel_request = json!({
        "steps": [
            { "event": "$pageview", "filters": [{ "key": "path", "op": "eq", "value": "/home" }] },
            { "event": "$pageview", "filters": [{ "key": "path", "op": "eq", "value": "/pricing" }] },
            { "event": "signup" }
        ],
        "window_seconds": 3600
    });
    let response = stack
        .http
        .post(stack.query.url(&format!("/api/query/funnel?{scope}")))
        .bearer_auth(&admin)
        .json(&funnel_request)
        .send()
        .await
        .expect("funnel");
    assert_eq!(response.status(), StatusCode::OK);
    let funnel: Value = response.json().await.expect("json");
    // Computed here: per user, the first /home, then a /pricing after it, then a signup after
    // that, all within the hour after the /home.
    let mut reached = [0u64; 3];
    let mut by_plan: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    let mut seconds_to_convert = Vec::new();
    for user in &users {
        let plan = events
            .iter()
            .find(|e| e.user == *user)
            .map_or("", |e| e.plan);
        let mine: Vec<&Generated> = events.iter().filter(|e| e.user == *user).collect();
        let step = |after: Timestamp, matches: &dyn Fn(&Generated) -> bool| {
            mine.iter()
                .filter(|e| matches(e) && e.at >= after)
                .map(|e| e.at)
                .min()
        };
        let Some(start) = step(Timestamp::MIN, &|e| {
            e.event == "$pageview" && e.path == "/home"
        }) else {
            continue;
        };
        let window_end = start + jiff::SignedDuration::from_hours(1);
        reached[0] += 1;
        let plan_reached = by_plan.entry(plan).or_default();
        plan_reached[0] += 1;
        let Some(second) = step(start, &|e| e.event == "$pageview" && e.path == "/pricing")
            .filter(|t| *t <= window_end)
        else {
            continue;
        };
        reached[1] += 1;
        plan_reached[1] += 1;
        if let Some(third) = step(second, &|e| e.event == "signup").filter(|t| *t <= window_end) {
            reached[2] += 1;
            plan_reached[2] += 1;
            seconds_to_convert.push(third.as_second() - start.as_second());
        }
    }
    assert_eq!(reached, [12, 6, 3], "the generated funnel");
    assert_eq!(by_plan.len(), 2);
    for (i, step) in funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        assert_eq!(step["count"], json!(reached[i]), "{funnel}");
        assert_eq!(
            step["conversion_from_first"],
            json!(reached[i] as f64 / reached[0] as f64)
        );
        let previous = if i == 0 { reached[0] } else { reached[i - 1] };
        assert_eq!(
            step["conversion_from_previous"],
            json!(reached[i] as f64 / previous as f64)
        );
    }
    assert_eq!(seconds_to_convert, [720, 720, 720]);
    assert_eq!(funnel["median_seconds_to_convert"], json!(720.0));

    // The same funnel broken down by the plan of the first step.
    let mut request = funnel_request.clone();
    request["breakdown"] = json!("property:plan");
    let response = stack
        .http
        .post(stack.query.url(&format!("/api/query/funnel?{scope}")))
        .bearer_auth(&admin)
        .json(&request)
        .send()
        .await
        .expect("funnel");
    assert_eq!(response.status(), StatusCode::OK);
    let broken: Value = response.json().await.expect("json");
    let groups: BTreeMap<String, Vec<u64>> = broken["breakdown"]
        .as_array()
        .expect("breakdown")
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap_or_default().to_owned(),
                g["steps"]
                    .as_array()
                    .map(|s| s.iter().filter_map(|s| s["count"].as_u64()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let expected: BTreeMap<String, Vec<u64>> = by_plan
        .iter()
        .map(|(plan, counts)| ((*plan).to_owned(), counts.to_vec()))
        .collect();
    assert_eq!(groups, expected, "{broken}");

    // Retention by day: cohorts by the first pageview's Berlin day, returns 0..2 days later.
    let response = stack
        .http
        .post(stack.query.url(&format!("/api/query/retention?{scope}")))
        .bearer_auth(&admin)
        .json(&json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "day", "periods": 3 }))
        .send()
        .await
        .expect("retention");
    assert_eq!(response.status(), StatusCode::OK);
    let retention: Value = response.json().await.expect("json");
    let mut expected: BTreeMap<String, (u64, Vec<u64>)> = BTreeMap::new();
    for user in &users {
        let days: Vec<jiff::civil::Date> = events
            .iter()
            .filter(|e| e.user == *user && e.event == "$pageview")
            .map(|e| e.at.to_zoned(berlin.clone()).date())
            .collect();
        let Some(first) = days.iter().min().copied() else {
            continue;
        };
        let cohort = expected.entry(first.to_string()).or_insert((0, vec![0; 3]));
        cohort.0 += 1;
        let offsets: HashSet<i32> = days.iter().map(|d| (*d - first).get_days()).collect();
        for offset in offsets.into_iter().filter(|o| (0..3).contains(o)) {
            cohort.1[offset as usize] += 1;
        }
    }
    let got: BTreeMap<String, (u64, Vec<u64>)> = retention["cohorts"]
        .as_array()
        .expect("cohorts")
        .iter()
        .map(|c| {
            (
                c["start"].as_str().unwrap_or_default().to_owned(),
                (
                    c["size"].as_u64().unwrap_or(0),
                    c["returned"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_u64).collect())
                        .unwrap_or_default(),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected, "{retention}");
    assert!(
        expected.values().any(|(_, returned)| returned[2] > 0),
        "some users come back two days later"
    );

    // Catalogue: event names and property keys with their counts.
    let (status, catalog) = stack
        .get(Some(&admin), &format!("/api/query/catalog?{scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{catalog}");
    let mut names: HashMap<&str, u64> = HashMap::new();
    for event in &events {
        *names.entry(event.event).or_default() += 1;
    }
    let listed: HashMap<String, u64> = catalog["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_owned(),
                e["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let names: HashMap<String, u64> = names.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(listed, names);
    let keys: HashMap<String, u64> = catalog["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap_or_default().to_owned(),
                e["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(keys.get("plan"), Some(&(events.len() as u64)), "{catalog}");
    assert_eq!(
        keys.get("minutes"),
        Some(&(events.len() as u64)),
        "{catalog}"
    );

    // One event in full.
    let night = events.last().expect("night owl");
    let (status, one) = stack
        .get(
            Some(&admin),
            &format!("/api/query/events/{}?project_id={project}", night.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["event"]["distinct_id"], "night-owl");
    assert_eq!(one["event"]["timestamp"], "2026-11-03T23:30:00Z");
    assert_eq!(one["event"]["context"]["path"], "/blog");
    assert_eq!(one["event"]["properties"]["plan"], "free");

    same_answers_on_current_clickhouse(&stack, &sql_log);
}

/// Every statement query ran above, run again on ClickHouse 18.16 and on current ClickHouse
/// (chdb-core) holding the same rows: the answers are the same.
fn same_answers_on_current_clickhouse(stack: &Stack, sql_log: &std::path::Path) {
    let server = stack._ch.server();
    let database = &stack._ch.name;
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
    // Every row as stored, duplicates of the retried batch included, so FINAL matters on both.
    let rows = server
        .query_in(database, "SELECT * FROM events FORMAT Values")
        .expect("rows");
    chdb.query(&format!("INSERT INTO default.events VALUES {rows}"))
        .expect("rows copied");
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

#[tokio::test(flavor = "multi_thread")]
async fn the_live_feed_shows_an_event_within_a_second_and_counts_active_users() {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let created: Value = stack
        .http
        .post(stack.auth.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Live" }))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("json");
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();
    devstack::wait::until_async(
        "the project known to query",
        Duration::from_secs(10),
        || async {
            stack
                .get(
                    Some(&admin),
                    &format!("/api/query/overview?project_id={project}"),
                )
                .await
                .0
                == StatusCode::OK
        },
    )
    .await
    .expect("project known");

    let mut feed = stack
        .http
        .get(
            stack
                .query
                .url(&format!("/api/query/live?project_id={project}")),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .expect("live");
    assert_eq!(feed.status(), StatusCode::OK);
    assert_eq!(
        feed.headers()["content-type"].to_str().unwrap_or_default(),
        "text/event-stream"
    );
    // The first count arrives at once: the subscription is open.
    let mut received = String::new();
    while !received.contains("event: active_users") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), feed.chunk())
            .await
            .expect("a first message")
            .expect("reads")
            .expect("open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }

    let id = Uuid::new_v4().to_string();
    let response = stack
        .http
        .post(stack.ingest.url("/e/"))
        .json(
            &json!({ "api_key": key, "uuid": id, "event": "live-click", "distinct_id": "watcher" }),
        )
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), StatusCode::OK);
    let accepted = std::time::Instant::now();
    while !received.contains(&id) {
        let chunk = tokio::time::timeout(Duration::from_secs(1), feed.chunk())
            .await
            .expect("the event within a second")
            .expect("reads")
            .expect("open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(accepted.elapsed() < Duration::from_secs(1));
    assert!(received.contains("event: event"), "{received}");

    // Once stored, the next count includes the watcher.
    let counted = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if received.contains("{\"count\":1}") {
                return;
            }
            match feed.chunk().await {
                Ok(Some(chunk)) => received.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return,
            }
        }
    })
    .await;
    assert!(
        counted.is_ok() && received.contains("{\"count\":1}"),
        "{received}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_callers_and_parameter_abuse_get_their_4xx() {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let created: Value = stack
        .http
        .post(stack.auth.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Abuse" }))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("json");
    let project = created["id"].as_str().expect("project id").to_owned();
    let register = json!({ "email": "plain@example.com", "password": PASSWORD });
    let response = stack
        .http
        .post(stack.auth.url("/api/auth/register"))
        .json(&register)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = stack.token("plain@example.com");

    let overview = format!("/api/query/overview?project_id={project}");
    assert_eq!(stack.get(None, &overview).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        stack.get(Some("not.a.token"), &overview).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = stack.get(Some(&user), &overview).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(stack.get(Some(&admin), &overview).await.0, StatusCode::OK);
    // A method the path does not answer: 405 in the same JSON shape as every error.
    let (status, body) = stack
        .get(
            Some(&admin),
            &format!("/api/query/funnel?project_id={project}"),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");

    for (path, status, mentions) in [
        (
            format!("/api/query/overview?project_id={}", Uuid::new_v4()),
            StatusCode::NOT_FOUND,
            "project",
        ),
        (
            "/api/query/overview?project_id=1 OR 1=1".to_owned(),
            StatusCode::BAD_REQUEST,
            "project_id",
        ),
        (
            "/api/query/overview".to_owned(),
            StatusCode::BAD_REQUEST,
            "project_id",
        ),
        (
            format!("/api/query/overview?project_id={project}&from=2015-01-01&to=2026-01-01"),
            StatusCode::BAD_REQUEST,
            "days",
        ),
        (
            format!(
                "/api/query/trends?project_id={project}&from=2026-01-01&to=2026-03-01&interval=minute"
            ),
            StatusCode::BAD_REQUEST,
            "buckets",
        ),
        (
            format!("/api/query/trends?project_id={project}&interval=fortnight"),
            StatusCode::BAD_REQUEST,
            "interval",
        ),
        (
            format!("/api/query/trends?project_id={project}&measure=sum(1)"),
            StatusCode::BAD_REQUEST,
            "measure",
        ),
        (
            format!("/api/query/trends?project_id={project}&measure=sum"),
            StatusCode::BAD_REQUEST,
            "property",
        ),
        (
            format!("/api/query/top?project_id={project}&dimension=property:x')%20OR%201%3D1%20--"),
            StatusCode::BAD_REQUEST,
            "property key",
        ),
        (
            format!("/api/query/top?project_id={project}&dimension=password"),
            StatusCode::BAD_REQUEST,
            "dimension",
        ),
        (
            format!("/api/query/top?project_id={project}&limit=999999"),
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            format!("/api/query/events?project_id={project}&cursor=abc"),
            StatusCode::BAD_REQUEST,
            "cursor",
        ),
        (
            format!("/api/query/events/not-a-uuid?project_id={project}"),
            StatusCode::BAD_REQUEST,
            "UUID",
        ),
        (
            format!("/api/query/events/%FF?project_id={project}"),
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            format!("/api/query/events/{}?project_id={project}", Uuid::new_v4()),
            StatusCode::NOT_FOUND,
            "event",
        ),
        (
            format!("/api/query/overview?project_id={project}&from=tomorrow"),
            StatusCode::BAD_REQUEST,
            "tomorrow",
        ),
        (
            format!(
                "/api/query/overview?project_id={project}&filter={}",
                urlencode(r#"[{"key":"property:x') OR 1=1 --","op":"eq","value":"a"}]"#)
            ),
            StatusCode::BAD_REQUEST,
            "property key",
        ),
        (
            format!(
                "/api/query/overview?project_id={project}&filter={}",
                urlencode(r#"[{"key":"path","op":"gt","value":"many"}]"#)
            ),
            StatusCode::BAD_REQUEST,
            "numeric",
        ),
        (
            format!("/api/query/overview?project_id={project}&filter=plan%3Dpro"),
            StatusCode::BAD_REQUEST,
            "JSON array",
        ),
    ] {
        let (got, body) = stack.get(Some(&admin), &path).await;
        assert_eq!(got, status, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{path}: {body}");
    }
    // Still answering.
    assert_eq!(stack.get(Some(&admin), &overview).await.0, StatusCode::OK);

    // The API description is public: no token needed.
    let (status, document) = stack.get(None, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        document["paths"].as_object().map(serde_json::Map::len),
        Some(10),
        "{document}"
    );

    // A query over its memory cap is stopped by ClickHouse and answered 503, in JSON.
    let starved = spawn_service("query", {
        let config = query::Config {
            http: HttpConfig::ephemeral(),
            nats: NatsConfig {
                url: stack._nats.url(),
            },
            clickhouse: ClickHouseConfig::local(stack._ch.server().http_port(), &stack._ch.name),
            auth: plumbing::jwt::AuthConfig::at(stack.auth.url("")),
            limits: query::Limits {
                max_memory_bytes: 1024,
                ..query::Limits::default()
            },
            sql_log: None,
        };
        move |l, s| query::run(config, l, s)
    })
    .expect("query");
    wait_for_readiness(&starved, 200).expect("ready");
    let response = stack
        .http
        .get(starved.url(&overview))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(
        !body.to_string().contains("DB::Exception"),
        "no internals: {body}"
    );
}

/// `text` as a query-string value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_system_figures_count_the_stream_and_the_table_and_their_sql_runs_on_current_clickhouse()
 {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let created: Value = stack
        .http
        .post(stack.auth.url("/api/admin/projects"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "System" }))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("json");
    let key = created["write_key"].as_str().expect("write key").to_owned();
    const SENT: u64 = 12;
    let batch: Vec<Value> = (0..SENT)
        .map(|i| json!({ "uuid": Uuid::now_v7(), "event": "system", "distinct_id": format!("u{i}") }))
        .collect();
    for _ in 0..2 {
        // Sent twice: the retry is dropped by the stream's deduplication, so never counted.
        let response = stack
            .http
            .post(stack.ingest.url("/batch/"))
            .json(&json!({ "api_key": key, "batch": batch }))
            .send()
            .await
            .expect("ingest");
        assert_eq!(response.status(), StatusCode::OK);
    }

    // Only admins: a user is refused, and so is a caller without a token.
    let register = json!({ "email": "plain@example.com", "password": PASSWORD });
    let response = stack
        .http
        .post(stack.auth.url("/api/auth/register"))
        .json(&register)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = stack.token("plain@example.com");
    assert_eq!(
        stack.get(None, "/api/query/system").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stack.get(Some(&user), "/api/query/system").await.0,
        StatusCode::FORBIDDEN
    );

    devstack::wait::until_async(
        "every event stored and acked",
        Duration::from_secs(30),
        || async {
            let (_, system) = stack.get(Some(&admin), "/api/query/system").await;
            let sink = system["consumers"]
                .as_array()
                .and_then(|all| {
                    all.iter()
                        .find(|c| c["name"] == contract::streams::SINK_CONSUMER)
                })
                .cloned()
                .unwrap_or_default();
            // The history copies from the backlog on its own, a moment later.
            system["clickhouse"]["rows"] == SENT
                && sink["pending"] == 0
                && sink["ack_pending"] == 0
                && system["streams"][1]["messages"] == SENT
        },
    )
    .await
    .expect("stored");
    let (status, system) = stack.get(Some(&admin), "/api/query/system").await;
    assert_eq!(status, StatusCode::OK, "{system}");
    let names: Vec<&str> = system["streams"]
        .as_array()
        .map(|all| all.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        ["EVENTS", "EVENTS_HISTORY", "EVENTS_DLQ", "AUTH"],
        "{system}"
    );
    // Stored and acked: the backlog let go of them, the history keeps them.
    assert_eq!(system["streams"][0]["last_sequence"], SENT, "{system}");
    assert_eq!(system["streams"][0]["refuses_when_full"], true, "{system}");
    assert_eq!(system["streams"][1]["messages"], SENT, "{system}");
    assert_eq!(system["streams"][1]["first_sequence"], 1, "{system}");
    assert_eq!(system["streams"][1]["refuses_when_full"], false, "{system}");
    assert_eq!(system["dlq_messages"], 0, "{system}");
    assert_eq!(system["consumers"][1]["name"], "auth-projector", "{system}");
    assert_eq!(system["consumers"][1]["pending"], 0, "{system}");
    assert!(
        system["clickhouse"]["bytes_on_disk"].as_u64() > Some(0),
        "{system}"
    );
    assert_eq!(system["problems"], json!([]), "{system}");

    // The same statement on current ClickHouse: it runs and counts what the table holds.
    let mut chdb = devstack::chdb::Chdb::start().expect("chdb");
    for statement in sink::schema::statements("default").expect("schema") {
        chdb.query(&statement)
            .expect("the events DDL runs on current ClickHouse");
    }
    let rows = stack
        ._ch
        .server()
        .query_in(&stack._ch.name, "SELECT * FROM events FORMAT Values")
        .expect("rows");
    chdb.query(&format!("INSERT INTO default.events VALUES {rows}"))
        .expect("rows copied");
    let figures = chdb
        .query(&format!("{} FORMAT TSV", query::EVENTS_PARTS))
        .expect("the parts query runs on current ClickHouse");
    assert!(figures.starts_with(&format!("{SENT}\t")), "{figures}");
}
