//! `cargo xtask bench`: measures on a stack of its own (free ports, temporary folders), each
//! figure next to a limit measured in the same run, and writes `target/bench/report.md` and
//! `report.json`. Scenario so far: auth (logins against the argon2id bound, token costs).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use devstack::install::Need;
use devstack::nats::NatsServer;
use devstack::ports::free_port;
use devstack::postgres::{Postgres, PostgresOptions};
use devstack::process::{Options, Process};
use devstack::test::TempDir;
use serde_json::{Value, json};

use crate::{cargo, run};

/// Rounds and durations of one run.
struct Plan {
    sequential_logins: usize,
    concurrent_logins_per_client: usize,
    crypto_seconds: u64,
}

pub fn bench(quick: bool) -> anyhow::Result<()> {
    let plan = if quick {
        Plan {
            sequential_logins: 40,
            concurrent_logins_per_client: 40,
            crypto_seconds: 3,
        }
    } else {
        Plan {
            sequential_logins: 200,
            concurrent_logins_per_client: 200,
            crypto_seconds: 10,
        }
    };
    devstack::install::ensure(&[Need::Nats, Need::Postgres])?;
    let root = devstack::workspace_root();
    run(Command::new(cargo()).current_dir(&root).args([
        "build",
        "--release",
        "--package",
        "auth",
        "--bin",
        "auth",
    ]))?;
    let auth_bin = root.join("target/release/auth");

    let dir = TempDir::new("bench")?;
    let nats = NatsServer::start(&dir.path().join("nats"), free_port()?, None)?;
    let postgres = Postgres::start(PostgresOptions {
        dir: dir.path().join("postgres"),
        port: free_port()?,
        password: "bench-password".to_owned(),
        ephemeral: false,
    })?;
    postgres.create_database("bench")?;

    eprintln!(
        "auth: measuring argon2id and token costs ({} s)",
        plan.crypto_seconds
    );
    let crypto = Command::new(&auth_bin)
        .args(["bench-crypto", &plan.crypto_seconds.to_string()])
        .output()
        .context("running auth bench-crypto")?;
    anyhow::ensure!(crypto.status.success(), "auth bench-crypto failed");
    let crypto: Value =
        serde_json::from_slice(&crypto.stdout).context("auth bench-crypto output")?;

    let keys = dir.path().join("signing-keys");
    run(Command::new(&auth_bin).args(["keys", "add"]).arg(&keys))?;
    let port = free_port()?;
    let log = dir.path().join("auth.log");
    let mut command = Command::new(&auth_bin);
    command
        .env("AUTH_PORT", port.to_string())
        .env("NATS_URL", nats.url())
        .env("POSTGRES_PORT", postgres.port().to_string())
        .env("POSTGRES_DB", "bench")
        .env("POSTGRES_PASSWORD", postgres.password())
        .env(
            "AUTH_SIGNING_KEYS",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .env("RUST_LOG", "warn");
    let mut auth = Process::spawn("auth", command, &log, Options::default())?;
    auth.wait_ready("auth /readyz", Duration::from_secs(60), &log, || {
        devstack::http::get(port, "/readyz", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    })?;
    let login =
        json!({ "email": "bench@example.com", "password": "benchmark password 123" }).to_string();
    let register = devstack::http::request(
        port,
        "POST",
        "/api/auth/register",
        Some("application/json"),
        login.as_bytes(),
        Duration::from_secs(30),
    )?;
    anyhow::ensure!(
        register.status == 201,
        "register answered {}: {}",
        register.status,
        register.body
    );

    let one_login = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = devstack::http::request(
            port,
            "POST",
            "/api/auth/login",
            Some("application/json"),
            login.as_bytes(),
            Duration::from_secs(30),
        )?;
        anyhow::ensure!(
            response.status == 200,
            "login answered {}: {}",
            response.status,
            response.body
        );
        Ok(started.elapsed())
    };
    eprintln!("auth: {} sequential logins", plan.sequential_logins);
    for _ in 0..5 {
        one_login()?;
    }
    let mut latencies = (0..plan.sequential_logins)
        .map(|_| one_login())
        .collect::<anyhow::Result<Vec<_>>>()?;
    latencies.sort();

    let clients = std::thread::available_parallelism().map_or(2, usize::from);
    eprintln!(
        "auth: {clients} clients x {} logins",
        plan.concurrent_logins_per_client
    );
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    (0..plan.concurrent_logins_per_client).try_for_each(|_| one_login().map(|_| ()))
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
        }
        Ok(())
    })?;
    let logins_per_sec =
        (clients * plan.concurrent_logins_per_client) as f64 / started.elapsed().as_secs_f64();
    auth.stop();

    let hashes_per_sec = crypto["hashes_per_sec"].as_f64().unwrap_or(0.0);
    let p50 = percentile_ms(&latencies, 0.50);
    let p99 = percentile_ms(&latencies, 0.99);
    let report = json!({
        "machine": { "cores": clients, "os": std::env::consts::OS, "arch": std::env::consts::ARCH },
        "quick": quick,
        "auth": {
            "login_p50_ms": p50,
            "login_p99_ms": p99,
            "logins_per_sec": logins_per_sec,
            "argon2id_hashes_per_sec": hashes_per_sec,
            "logins_to_hashes_ratio": if hashes_per_sec > 0.0 { logins_per_sec / hashes_per_sec } else { 0.0 },
            "jwt_verify_us": crypto["jwt_verify_us"],
            "jwt_sign_us": crypto["jwt_sign_us"],
        }
    });
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    let markdown = format!(
        "# Benchmark report\n\n{} run on {clients} cores.\n\n## Auth\n\n\
| figure | value | limit measured in the same run | ratio |\n|---|---|---|---|\n\
| logins/s ({clients} clients) | {logins_per_sec:.1} | argon2id hashes/s on all cores: {hashes_per_sec:.1} | {:.2} |\n\
| login latency p50 / p99 | {p50:.1} ms / {p99:.1} ms | one argon2id hash: {:.1} ms per core | |\n\
| JWT verification | {:.1} µs | | |\n| JWT signing | {:.1} µs | | |\n",
        if quick { "Quick" } else { "Full" },
        report["auth"]["logins_to_hashes_ratio"]
            .as_f64()
            .unwrap_or(0.0),
        if hashes_per_sec > 0.0 {
            1000.0 * clients as f64 / hashes_per_sec
        } else {
            0.0
        },
        crypto["jwt_verify_us"].as_f64().unwrap_or(0.0),
        crypto["jwt_sign_us"].as_f64().unwrap_or(0.0),
    );
    std::fs::write(out.join("report.md"), &markdown)?;
    println!("{markdown}");
    println!("written to {}", out.display());
    Ok(())
}

fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}
