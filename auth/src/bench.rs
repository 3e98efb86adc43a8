//! Capacity probe of the CPU-bound work of auth on this machine: argon2id hashes per second
//! (the bound on logins per second) and the cost of verifying one access token. Run by
//! `cargo xtask bench` against the release build.

use std::time::{Duration, Instant};

use contract::auth::Role;
use serde::Serialize;
use uuid::Uuid;

use crate::signing::{self, SigningKeys};
use crate::tokens::{self, TokenSettings};

/// What `auth bench-crypto` prints (JSON).
#[derive(Debug, Serialize)]
pub struct CryptoReport {
    /// argon2id (m=19456, t=2, p=1) hashes per second, one per core in parallel.
    pub hashes_per_sec: f64,
    /// Parallel hashing threads used.
    pub threads: usize,
    /// Microseconds to verify one access token (signature and claims).
    pub jwt_verify_us: f64,
    /// Microseconds to sign one access token.
    pub jwt_sign_us: f64,
}

/// Hashes on every core for `duration`, then times token signing and verification.
pub async fn crypto(duration: Duration) -> anyhow::Result<CryptoReport> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            tokio::spawn(async move {
                let mut hashes = 0_u64;
                while started.elapsed() < duration {
                    crate::passwords::hash("benchmark password 123".to_owned()).await?;
                    hashes += 1;
                }
                anyhow::Ok(hashes)
            })
        })
        .collect();
    let mut hashes = 0;
    for worker in workers {
        hashes += worker.await??;
    }
    let hashes_per_sec = hashes as f64 / started.elapsed().as_secs_f64();

    let keys = SigningKeys::from_lines(&signing::generate_line()?)?;
    let settings = TokenSettings {
        issuer: "bench".to_owned(),
        audience: "bench".to_owned(),
        access_ttl_secs: 900,
        refresh_ttl_secs: 3600,
    };
    let rounds = 2_000;
    let signing = Instant::now();
    let mut token = String::new();
    for _ in 0..rounds {
        token = tokens::issue_access(&keys, &settings, Uuid::now_v7(), Role::User)?;
    }
    let jwt_sign_us = signing.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let verifying = Instant::now();
    for _ in 0..rounds {
        tokens::verify_access(&keys, &settings, &token)?;
    }
    let jwt_verify_us = verifying.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    Ok(CryptoReport {
        hashes_per_sec,
        threads,
        jwt_verify_us,
        jwt_sign_us,
    })
}
