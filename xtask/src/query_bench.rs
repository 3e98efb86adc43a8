//! Query benchmarks: generated events (10 M, or 1 M with `--quick`) over 60 days in a
//! ClickHouse of its own, the release query service and edge in front of it, and each API call
//! timed through edge and through query against the very SQL it ran (from `QUERY_SQL_LOG`) sent
//! straight to ClickHouse.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use devstack::clickhouse::{ClickHouse, ClickHousePorts};
use devstack::nats::{NatsPasswords, NatsServer};
use devstack::ports::free_port;
use devstack::test::TempDir;
use serde_json::{Value, json};
use sink::consumer::EventRow;
use uuid::Uuid;
use xtask::demo::Rng;

const DATABASE: &str = "bench_q";
const ADMIN: &str = "bench-admin@example.com";
const PASSWORD: &str = "benchmark password 123";

/// One API call, measured.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    /// Through edge, then the query service (HTTP twice, token check, SQL, JSON).
    pub edge_p50_ms: f64,
    /// Through the query service (HTTP, token check, SQL, JSON).
    pub p50_ms: f64,
    /// The same statements straight to ClickHouse over HTTP.
    pub direct_p50_ms: f64,
    pub statements: usize,
}

#[derive(Debug)]
pub struct QueryReport {
    pub rows: usize,
    pub scenarios: Vec<Scenario>,
}

pub async fn run(quick: bool, dir: &TempDir) -> anyhow::Result<QueryReport> {
    // On 1 M events a call takes tens of milliseconds, where 5 rounds left the edge ratio to
    // the noise of one slow round (1.36 once); 15 cost a few seconds more.
    let (rows, rounds) = if quick {
        (1_000_000, 15)
    } else {
        (10_000_000, 15)
    };
    let nats = NatsServer::start(
        &dir.path().join("nats-query"),
        free_port()?,
        None,
        NatsPasswords::generate(),
    )?;
    let js = jetstream::new(plumbing::streams::connect(nats.url()).await?);
    plumbing::streams::provision(&js, &plumbing::streams::Definitions::bundled()?).await?;
    let project = Uuid::now_v7();
    let created = contract::auth::AuthEvent::ProjectCreated {
        project_id: project,
        name: "Bench".to_owned(),
        timezone: "UTC".to_owned(),
        by: None,
        at: time::OffsetDateTime::now_utc(),
    };
    js.publish(
        contract::auth::project_subject(project),
        serde_json::to_vec(&created)?.into(),
    )
    .await?
    .await?;

    let clickhouse = ClickHouse::start(
        &dir.path().join("clickhouse-query"),
        ClickHousePorts {
            http: free_port()?,
            tcp: free_port()?,
            interserver: free_port()?,
        },
    )?;
    eprintln!("query: generating and inserting {rows} events");
    let started = Instant::now();
    insert_events(&clickhouse, project, rows).await?;
    eprintln!(
        "query: {rows} events stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Measure the steady state: the 50 inserted parts merged, not merges fighting the queries
    // for the two cores, as they would only for minutes after a bulk load.
    let started = Instant::now();
    clickhouse.query_in(DATABASE, "OPTIMIZE TABLE events FINAL")?;
    devstack::wait::until("merges done", Duration::from_secs(600), || {
        clickhouse
            .query_in(DATABASE, "SELECT count() FROM system.merges")
            .is_ok_and(|merges| merges.trim() == "0")
    })?;
    eprintln!(
        "query: parts merged in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let auth = crate::bench::start_auth(
        &dir.path().join("query-auth"),
        &nats.url(),
        &[("ADMIN_EMAIL", ADMIN), ("ADMIN_PASSWORD", PASSWORD)],
    )?;
    let http = reqwest::Client::new();
    let token = devstack::test::access_token(auth.port, ADMIN, PASSWORD, Duration::from_secs(30))?;

    let sql_log = dir.path().join("query-statements.sql");
    let port = free_port()?;
    let env = [
        ("QUERY_PORT", port.to_string()),
        ("NATS_URL", nats.url()),
        ("CLICKHOUSE_PORT", clickhouse.http_port().to_string()),
        ("CLICKHOUSE_DB", DATABASE.to_owned()),
        ("AUTH_URL", format!("http://127.0.0.1:{}", auth.port)),
        ("QUERY_SQL_LOG", sql_log.display().to_string()),
        ("QUERY_TIMEOUT_SECONDS", "60".to_owned()),
    ];
    let mut query =
        crate::bench::start_release(dir.path(), "query", "query", &env, Some((port, "/readyz")))?;
    let edge_port = free_port()?;
    let mut edge = crate::bench::start_edge(dir, "edge", edge_port, auth.port, 9, port)?;

    let today = time::OffsetDateTime::now_utc().date();
    let days_ago = |days: i64| today - time::Duration::days(days);
    let month = format!("project_id={project}&from={}&to={today}", days_ago(29));
    let weeks = format!("project_id={project}&from={}&to={today}", days_ago(55));
    let calls: Vec<(&'static str, String, Option<Value>)> = vec![
        (
            "overview, 30 days",
            format!("/api/query/overview?{month}"),
            None,
        ),
        (
            "trends, 30 days by hour, by browser",
            format!("/api/query/trends?{month}&interval=hour&breakdown=browser"),
            None,
        ),
        (
            "top paths, 30 days",
            format!("/api/query/top?{month}&dimension=path"),
            None,
        ),
        (
            "3-step funnel, 30 days",
            format!("/api/query/funnel?{month}"),
            Some(json!({
                "steps": [{ "event": "$pageview" }, { "event": "add_to_cart" }, { "event": "purchase" }],
                "window_seconds": 86_400
            })),
        ),
        (
            "8-week retention",
            format!("/api/query/retention?{weeks}"),
            Some(
                json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "week", "periods": 8 }),
            ),
        ),
    ];
    let mut scenarios = Vec::new();
    for (name, path, body) in calls {
        eprintln!("query: {name}");
        let call_at = |port: u16| {
            let (http, path, body, token) = (&http, &path, &body, &token);
            async move {
                let url = format!("http://127.0.0.1:{port}{path}");
                let request = match body {
                    Some(body) => http.post(&url).json(body),
                    None => http.get(&url),
                };
                let started = Instant::now();
                let response = request.bearer_auth(token).send().await?;
                let status = response.status();
                let text = response.text().await?;
                anyhow::ensure!(status.is_success(), "{name}: {status} {text}");
                anyhow::Ok(started.elapsed())
            }
        };
        // The warm-up call also shows which statements the call runs.
        let before = std::fs::read_to_string(&sql_log)
            .unwrap_or_default()
            .lines()
            .count();
        call_at(port).await?;
        let statements: Vec<String> = std::fs::read_to_string(&sql_log)?
            .lines()
            .skip(before)
            .map(str::to_owned)
            .collect();
        // Rounds alternate between edge and query, so drift in the machine's speed hits both.
        let mut through = Vec::with_capacity(rounds);
        let mut through_edge = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            through_edge.push(call_at(edge_port).await?);
            through.push(call_at(port).await?);
        }
        let clickhouse_url = format!(
            "http://127.0.0.1:{}/?database={DATABASE}",
            clickhouse.http_port()
        );
        let direct_round = || {
            let (http, clickhouse_url, statements) = (&http, &clickhouse_url, &statements);
            async move {
                let started = Instant::now();
                for statement in statements {
                    let response = http
                        .post(clickhouse_url)
                        .body(statement.clone())
                        .send()
                        .await?;
                    let status = response.status();
                    let text = response.text().await?;
                    anyhow::ensure!(status.is_success(), "direct {name}: {status} {text}");
                }
                anyhow::Ok(started.elapsed())
            }
        };
        let mut direct = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            direct.push(direct_round().await?);
        }
        through.sort();
        through_edge.sort();
        direct.sort();
        scenarios.push(Scenario {
            name,
            edge_p50_ms: crate::bench::percentile_ms(&through_edge, 0.5),
            p50_ms: crate::bench::percentile_ms(&through, 0.5),
            direct_p50_ms: crate::bench::percentile_ms(&direct, 0.5),
            statements: statements.len(),
        });
    }
    edge.stop();
    query.stop();
    Ok(QueryReport { rows, scenarios })
}

const PATHS: &[&str] = &[
    "/",
    "/pricing",
    "/docs",
    "/blog",
    "/blog/launch",
    "/products",
    "/products/1",
    "/products/2",
    "/products/3",
    "/cart",
    "/checkout",
    "/about",
    "/careers",
    "/contact",
];
const BROWSERS: &[&str] = &["Chrome", "Firefox", "Safari", "Edge", "Samsung Internet"];
const OSES: &[&str] = &["Windows", "macOS", "Linux", "iOS", "Android"];
const DEVICES: &[&str] = &["desktop", "mobile", "tablet"];
const REFERRERS: &[&str] = &[
    "",
    "",
    "google.com",
    "news.ycombinator.com",
    "twitter.com",
    "github.com",
];
const PLANS: &[&str] = &["free", "pro", "team"];

/// `rows` events of users who come back over the weeks, in sessions that browse, add to cart
/// and sometimes buy, over the last 60 days.
async fn insert_events(clickhouse: &ClickHouse, project: Uuid, rows: usize) -> anyhow::Result<()> {
    let server = clickhouse::Client::default()
        .with_url(format!("http://127.0.0.1:{}", clickhouse.http_port()))
        .with_validation(false);
    sink::schema::apply(&server, DATABASE).await?;
    let client = server.with_database(DATABASE);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let start = now - 60 * 86_400;
    let users = (rows / 50).max(1) as u64;
    let mut rng = Rng::with_state(0x9E37_79B9_7F4A_7C15);
    let mut written = 0;
    let mut sequence = 0u64;
    while written < rows {
        let chunk = (rows - written).min(200_000);
        let mut insert = client.insert::<EventRow>("events").await?;
        let mut in_chunk = 0;
        while in_chunk < chunk {
            // One session: a user, a day (users come back in later weeks), a few events.
            let user = rng.below(users);
            let home_day = (user * 7_919) % 60;
            let day = (home_day + 7 * rng.below(4)).min(59);
            let mut at = start + (day * 86_400 + rng.below(86_400)) as i64;
            let browser = BROWSERS[(user % BROWSERS.len() as u64) as usize];
            let os = OSES[(user % OSES.len() as u64) as usize];
            let device = DEVICES[(user % DEVICES.len() as u64) as usize];
            let referrer = rng.pick(REFERRERS);
            let plan = PLANS[(user % PLANS.len() as u64) as usize];
            let session = format!("s-{}", rng.next_u64());
            let length = 3 + rng.below(6);
            let mut carted = false;
            for _ in 0..length {
                let roll = rng.below(100);
                let (event, path) = if carted && roll < 25 {
                    ("purchase", "/checkout")
                } else if roll < 20 {
                    carted = true;
                    ("add_to_cart", rng.pick(&PATHS[6..9]))
                } else {
                    ("$pageview", rng.pick(PATHS))
                };
                at = (at + 10 + rng.below(300) as i64).min(now);
                sequence += 1;
                let seconds = u32::try_from(at).unwrap_or(u32::MAX);
                let row = EventRow {
                    project_id: project,
                    date: u16::try_from(at / 86_400).unwrap_or(u16::MAX),
                    timestamp: seconds,
                    event: event.to_owned(),
                    event_id: Uuid::from_u64_pair(rng.next_u64(), rng.next_u64()),
                    kind: if event == "$pageview" {
                        "page"
                    } else {
                        "track"
                    }
                    .to_owned(),
                    distinct_id: format!("user-{user}"),
                    user_id: String::new(),
                    session_id: session.clone(),
                    received_at: seconds,
                    prop_keys: vec!["plan".to_owned()],
                    prop_values: vec![plan.to_owned()],
                    url: format!("https://shop.example{path}"),
                    host: "shop.example".to_owned(),
                    path: path.to_owned(),
                    referrer: if referrer.is_empty() {
                        String::new()
                    } else {
                        format!("https://{referrer}/")
                    },
                    referrer_domain: referrer.to_owned(),
                    browser: browser.to_owned(),
                    os: os.to_owned(),
                    device_type: device.to_owned(),
                    lib: "web".to_owned(),
                    ip: "203.0.113.0".to_owned(),
                    is_bot: 0,
                    stream_sequence: sequence,
                };
                insert.write(&row).await?;
                in_chunk += 1;
            }
        }
        insert.end().await?;
        written += in_chunk;
    }
    Ok(())
}
