//! The auth scenario: logins against the argon2id bound measured in the same run, token costs,
//! and what edge adds to a request in front of auth.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use devstack::nats::{NatsPasswords, NatsServer};
use devstack::ports::free_port;
use devstack::test::TempDir;
use serde_json::{Value, json};

use super::load::{percentile_ms, ratio};
use super::services::{BenchAuth, launcher, start_edge};

const LOGIN: (&str, &str) = ("bench@example.com", "benchmark password 123");

/// How many logins, and how long the crypto costs are measured.
struct Plan {
    sequential: usize,
    per_client: usize,
    crypto_seconds: u64,
    /// Sequential requests per call in the edge overhead.
    edge_rounds: usize,
}

/// What the logins measured.
struct Logins {
    /// Sequential logins, each one's latency, sorted.
    latencies: Vec<Duration>,
    /// Logins per second from `clients` clients at once.
    per_sec: f64,
}

/// Logins against the argon2id bound, and token costs: the report's JSON and markdown parts.
pub(crate) fn run(quick: bool, dir: &TempDir, clients: usize) -> anyhow::Result<(Value, String)> {
    let plan = if quick {
        Plan {
            sequential: 40,
            per_client: 40,
            crypto_seconds: 3,
            edge_rounds: 1_000,
        }
    } else {
        Plan {
            sequential: 200,
            per_client: 200,
            crypto_seconds: 10,
            edge_rounds: 5_000,
        }
    };
    let nats = NatsServer::start(
        &dir.path().join("nats-auth"),
        free_port()?,
        None,
        NatsPasswords::generate(),
    )?;
    let crypto = crypto_costs(dir, plan.crypto_seconds)?;
    let mut auth = BenchAuth::start(&dir.path().join("auth"), &nats.url(), &[])?;
    let port = auth.port;
    let client = Client::new(port);
    let register = client.post("/api/auth/register")?;
    anyhow::ensure!(
        register.status == 201,
        "register answered {}: {}",
        register.status,
        register.body
    );
    let logins = logins(&client, &plan, clients)?;
    let token =
        serde_json::from_str::<Value>(&client.post("/api/auth/login")?.body)?["access_token"]
            .as_str()
            .context("login answered no access token")?
            .to_owned();
    let (edge, edge_markdown) = edge_overhead(plan.edge_rounds, dir, port, &token)?;
    auth.service.stop();
    Ok(report(&crypto, &logins, clients, edge, &edge_markdown))
}

/// argon2id hashes per second on all cores and JWT costs, from `auth bench-crypto`.
fn crypto_costs(dir: &TempDir, seconds: u64) -> anyhow::Result<Value> {
    let auth_bin = launcher(dir.path()).binary("auth");
    eprintln!("auth: measuring argon2id and token costs ({seconds} s)");
    let crypto = Command::new(&auth_bin)
        .args(["bench-crypto", &seconds.to_string()])
        .output()
        .context("running auth bench-crypto")?;
    anyhow::ensure!(crypto.status.success(), "auth bench-crypto failed");
    serde_json::from_slice(&crypto.stdout).context("auth bench-crypto output")
}

/// Auth on `port`, and the bench user's credentials as JSON.
struct Client {
    port: u16,
    login: String,
}

impl Client {
    fn new(port: u16) -> Self {
        let (email, password) = LOGIN;
        let login = json!({ "email": email, "password": password }).to_string();
        Self { port, login }
    }

    /// The credentials posted to `path`.
    fn post(&self, path: &str) -> anyhow::Result<devstack::http::Response> {
        devstack::http::request(
            self.port,
            "POST",
            path,
            Some("application/json"),
            self.login.as_bytes(),
            Duration::from_secs(30),
        )
    }
}

/// Sequential logins after a warm-up, then `clients` clients logging in at once.
fn logins(client: &Client, plan: &Plan, clients: usize) -> anyhow::Result<Logins> {
    let one_login = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = client.post("/api/auth/login")?;
        anyhow::ensure!(
            response.status == 200,
            "login answered {}: {}",
            response.status,
            response.body
        );
        Ok(started.elapsed())
    };
    let (sequential, per_client) = (plan.sequential, plan.per_client);
    eprintln!("auth: {sequential} sequential logins");
    for _ in 0..5 {
        one_login()?;
    }
    let mut latencies = (0..sequential)
        .map(|_| one_login())
        .collect::<anyhow::Result<Vec<_>>>()?;
    latencies.sort();
    eprintln!("auth: {clients} clients x {per_client} logins");
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..clients)
            .map(|_| scope.spawn(|| (0..per_client).try_for_each(|_| one_login().map(|_| ()))))
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
        }
        Ok(())
    })?;
    let per_sec = (clients * per_client) as f64 / started.elapsed().as_secs_f64();
    Ok(Logins { latencies, per_sec })
}

/// The auth part of the report, JSON and markdown.
fn report(
    crypto: &Value,
    logins: &Logins,
    clients: usize,
    edge: Value,
    edge_markdown: &str,
) -> (Value, String) {
    let logins_per_sec = logins.per_sec;
    let hashes_per_sec = crypto["hashes_per_sec"].as_f64().unwrap_or(0.0);
    let p50 = percentile_ms(&logins.latencies, 0.50);
    let p99 = percentile_ms(&logins.latencies, 0.99);
    let ratio = ratio(logins_per_sec, hashes_per_sec);
    let hash_ms = if hashes_per_sec > 0.0 {
        1000.0 * clients as f64 / hashes_per_sec
    } else {
        0.0
    };
    let verify_us = crypto["jwt_verify_us"].as_f64().unwrap_or(0.0);
    let sign_us = crypto["jwt_sign_us"].as_f64().unwrap_or(0.0);
    let report = json!({
        "edge": edge,
        "login_p50_ms": p50,
        "login_p99_ms": p99,
        "logins_per_sec": logins_per_sec,
        "argon2id_hashes_per_sec": hashes_per_sec,
        "logins_to_hashes_ratio": ratio,
        "jwt_verify_us": verify_us,
        "jwt_sign_us": sign_us,
    });
    let markdown = format!(
        "## Auth\n\n| figure | value | limit measured in the same run | ratio |\n|---|---|---|---|\n\
| logins/s ({clients} clients) | {logins_per_sec:.1} | argon2id hashes/s on all cores: {hashes_per_sec:.1} | {ratio:.2} |\n\
| login latency p50 / p99 | {p50:.1} ms / {p99:.1} ms | one argon2id hash: {hash_ms:.1} ms per core | |\n\
| JWT verification | {verify_us:.1} µs | | |\n| JWT signing | {sign_us:.1} µs | | |\n\n{edge_markdown}"
    );
    (report, markdown)
}

/// What edge adds to a request: the same calls, one after another on a keep-alive connection,
/// through the release edge and straight to auth. `/.well-known/jwks.json` is the bare proxy;
/// `/api/auth/me` adds the token check at the door.
fn edge_overhead(
    rounds: usize,
    dir: &TempDir,
    auth_port: u16,
    token: &str,
) -> anyhow::Result<(Value, String)> {
    let port = free_port()?;
    let mut edge = start_edge(dir, "edge-overhead", port, auth_port, 9, 9)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let measure = |target: u16, path: &'static str| {
        runtime.block_on(sequential_gets(&client, rounds, target, path, token))
    };
    let mut rows = Vec::new();
    let mut markdown = format!(
        "## Edge overhead ({rounds} sequential requests each, keep-alive)\n\n\
| call | through edge p50 / p99 | straight to auth p50 / p99 | added by edge p50 / p99 |\n|---|---|---|---|\n"
    );
    for path in ["/.well-known/jwks.json", "/api/auth/me"] {
        eprintln!("edge: {rounds} x {path} through edge and direct");
        let (edge_p50, edge_p99) = measure(port, path)?;
        let (direct_p50, direct_p99) = measure(auth_port, path)?;
        let _ = writeln!(
            markdown,
            "| `GET {path}` | {edge_p50:.3} / {edge_p99:.3} ms | {direct_p50:.3} / {direct_p99:.3} ms | {:.3} / {:.3} ms |",
            edge_p50 - direct_p50,
            edge_p99 - direct_p99,
        );
        rows.push(json!({
            "path": path,
            "edge_p50_ms": edge_p50, "edge_p99_ms": edge_p99,
            "direct_p50_ms": direct_p50, "direct_p99_ms": direct_p99,
            "added_p50_ms": edge_p50 - direct_p50, "added_p99_ms": edge_p99 - direct_p99,
        }));
    }
    edge.stop();
    Ok((Value::Array(rows), markdown))
}

/// `rounds` GETs of `path` on `port` after 100 unmeasured, one after another with `token`;
/// the p50 and p99 latency, ms.
async fn sequential_gets(
    client: &reqwest::Client,
    rounds: usize,
    port: u16,
    path: &str,
    token: &str,
) -> anyhow::Result<(f64, f64)> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds + 100 {
        let started = Instant::now();
        let response = client.get(&url).bearer_auth(token).send().await?;
        anyhow::ensure!(
            response.status() == 200,
            "{path} answered {}",
            response.status()
        );
        response.bytes().await?;
        if round >= 100 {
            latencies.push(started.elapsed());
        }
    }
    latencies.sort();
    Ok((
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.99),
    ))
}
