//! Shared links' passwords: a link with one answers only calls that carry it. It is checked
//! against the stored argon2id hash (its own parameters) off the async runtime, and a right
//! password is remembered for ten minutes, so a dashboard of many tiles costs one check. The
//! checks are limited per link and client address (20 a minute), so one visitor's guessing
//! locks out no other, and per link (300 a minute), which bounds the CPU they cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordVerifier as _;
use plumbing::projects::{SharedLink, secret_hash};
use plumbing::ratelimit::{Rate, RateLimiter};

use crate::error::Error;

/// How long a right password is remembered.
const REMEMBERED: Duration = Duration::from_secs(600);
/// The most passwords remembered; past that the memory starts again.
const MOST_REMEMBERED: usize = 10_000;

/// Password checks one client address may cost a link a minute, right or wrong.
const CHECKS_PER_CLIENT: u64 = 20;
/// Password checks a link may cost a minute, from every address together.
const CHECKS_PER_LINK: u64 = 300;

/// The right passwords seen lately, by the SHA-256 of the link's hash and the password, and the
/// checks each link may still cost.
#[derive(Debug, Clone)]
pub(crate) struct Unlocked {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    per_client: Arc<RateLimiter>,
    per_link: Arc<RateLimiter>,
}

impl Default for Unlocked {
    fn default() -> Self {
        Self {
            seen: Arc::default(),
            per_client: Arc::new(RateLimiter::new(Rate::per_minute(CHECKS_PER_CLIENT))),
            per_link: Arc::new(RateLimiter::new(Rate::per_minute(CHECKS_PER_LINK))),
        }
    }
}

impl Unlocked {
    /// Ok when `link` has no password, or `given` is it; else a 401 asking for it.
    pub(crate) async fn check(
        &self,
        link: &SharedLink,
        given: Option<&str>,
        client: &str,
    ) -> Result<(), Error> {
        let Some(phc) = link.password_hash.clone() else {
            return Ok(());
        };
        let Some(given) = given.filter(|given| !given.is_empty()) else {
            return Err(Error::SharePassword(
                "this shared dashboard needs its password".to_owned(),
            ));
        };
        let key = secret_hash(&format!("{phc}\n{given}"));
        if self.remembered(&key) {
            return Ok(());
        }
        self.per_client
            .check(&format!("{} {client}", link.share_id))
            .map_err(Error::TooManyGuesses)?;
        self.per_link
            .check(&link.share_id.to_string())
            .map_err(Error::TooManyGuesses)?;
        let password = given.to_owned();
        let right = tokio::task::spawn_blocking(move || {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), phc.as_str())
                .is_ok()
        })
        .await
        .map_err(|err| Error::Unavailable(err.to_string()))?;
        if !right {
            return Err(Error::SharePassword("wrong password".to_owned()));
        }
        let mut seen = self.lock();
        if seen.len() >= MOST_REMEMBERED {
            seen.clear();
        }
        seen.insert(key, Instant::now());
        Ok(())
    }

    fn remembered(&self, key: &str) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|at| at.elapsed() < REMEMBERED)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
