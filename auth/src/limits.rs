//! Brute-force limits on login, in a JetStream key-value bucket so every auth replica sees the
//! same counters. The rule is built so that nobody can use it to lock an owner out:
//!
//! - Failures are counted per account *and client address* together. An address that made
//!   `per_account` failures on an account is refused on that account (429, the right password
//!   included) until a window has passed since its last failure. Other addresses are not.
//! - An address that made `per_ip` failures over all accounts is refused on every account: that
//!   is one machine guessing widely, never an owner's only way in.
//! - Failures on an account from every address together are counted as well, and never lock
//!   it. When they reach `per_account` the account is under attack, which slows the attack
//!   down: each address then gets only `per_account_under_attack` failures on it before it is
//!   refused. An attacker cycling addresses thus gets a few guesses on the account for each
//!   address they control, and each address at most `per_ip` over all accounts.
//! - An IPv6 client counts as its /64 prefix, the block one subscriber is given, so walking the
//!   addresses of one connection buys nothing.
//! - The owner signing in from an address with no failures on the account always gets in: no
//!   counter of theirs is full. A success clears that address's count on the account (its
//!   typos are forgiven); the account's own count is left to expire, so a login by the owner
//!   does not hand an attacker fresh budgets.
//!
//! Each entry expires a window after its last failure (the bucket's `max_age`, counted from
//! the last write).

use std::net::IpAddr;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use contract::streams::LOGIN_FAILURES_BUCKET;
use time::OffsetDateTime;

/// How many failures lock what, for how long.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`, default 10: failures one address may make on one
    /// account, and the failures on an account from all addresses that put it under attack.
    pub per_account: u32,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT_UNDER_ATTACK`, default 3: failures one address may make
    /// on an account under attack.
    pub per_account_under_attack: u32,
    /// `LOGIN_MAX_FAILURES_PER_IP`, default 100: failures one address may make over all
    /// accounts.
    pub per_ip: u32,
    /// `LOGIN_FAILURE_WINDOW_SECS`, default 900: a lock lasts this long after the last failure.
    pub window_secs: u64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account: 10,
            per_account_under_attack: 3,
            per_ip: 100,
            window_secs: 900,
        }
    }
}

/// The counters.
#[derive(Debug, Clone)]
pub(crate) struct Failures {
    store: kv::Store,
    limits: LoginLimits,
}

/// One counter as read: its count and when it was last written.
#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    written: OffsetDateTime,
}

impl Failures {
    /// Opens the bucket, created on `replicas` servers when missing.
    pub(crate) async fn open(
        js: &jetstream::Context,
        limits: LoginLimits,
        replicas: usize,
    ) -> anyhow::Result<Self> {
        let store = match js.get_key_value(LOGIN_FAILURES_BUCKET).await {
            Ok(store) => {
                let stream = format!("KV_{LOGIN_FAILURES_BUCKET}");
                plumbing::streams::raise_replicas(js, &stream, replicas.max(1)).await;
                store
            }
            Err(_) => {
                js.create_key_value(kv::Config {
                    bucket: LOGIN_FAILURES_BUCKET.to_owned(),
                    description: "Failed logins per account and client address".to_owned(),
                    history: 1,
                    max_age: Duration::from_secs(limits.window_secs),
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: replicas.max(1),
                    ..Default::default()
                })
                .await?
            }
        };
        Ok(Self { store, limits })
    }

    /// `Some(seconds to wait)` when `ip` may not try the account now (see the module doc).
    pub(crate) async fn locked(&self, email_hash: &str, ip: IpAddr) -> anyhow::Result<Option<u64>> {
        let (pair, address, account) = (
            pair_key(email_hash, ip),
            ip_key(ip),
            account_key(email_hash),
        );
        let (pair, address, account) = futures_util::try_join!(
            self.count(&pair),
            self.count(&address),
            self.count(&account),
        )?;
        let under_attack = account.is_some_and(|c| c.failures >= self.limits.per_account);
        let per_pair = if under_attack {
            self.limits.per_account_under_attack
        } else {
            self.limits.per_account
        };
        let wait = [(pair, per_pair), (address, self.limits.per_ip)]
            .into_iter()
            .filter_map(|(count, limit)| count.filter(|c| c.failures >= limit.max(1)))
            .map(|count| self.remaining(count))
            .max();
        Ok(wait)
    }

    /// Counts one failure of `ip` on the account: against the pair, the address and the
    /// account.
    pub(crate) async fn record_failure(&self, email_hash: &str, ip: IpAddr) -> anyhow::Result<()> {
        futures_util::try_join!(
            self.increment(pair_key(email_hash, ip)),
            self.increment(ip_key(ip)),
            self.increment(account_key(email_hash)),
        )?;
        Ok(())
    }

    /// Forgets the failures of `ip` on the account after it signed in.
    pub(crate) async fn clear(&self, email_hash: &str, ip: IpAddr) -> anyhow::Result<()> {
        self.store.purge(pair_key(email_hash, ip)).await?;
        Ok(())
    }

    async fn count(&self, key: &str) -> anyhow::Result<Option<Count>> {
        Ok(self
            .store
            .entry(key)
            .await?
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| Count {
                failures: parse_count(&entry.value),
                written: entry.created,
            }))
    }

    /// Adds one to `key`, compare-and-set, retried: concurrent failures on other replicas all
    /// count.
    async fn increment(&self, key: String) -> anyhow::Result<()> {
        // Compare-and-set, tried again when another failure (here or on another replica) wrote
        // first. A failure that cannot be counted is an error (the login answers 503), never a
        // guess let through uncounted.
        let mut last = None;
        for _ in 0..INCREMENT_TRIES {
            let outcome = match self.store.entry(&key).await? {
                Some(entry) => {
                    let next = match entry.operation {
                        kv::Operation::Put => parse_count(&entry.value) + 1,
                        _ => 1,
                    };
                    self.store
                        .update(&key, next.to_string().into(), entry.revision)
                        .await
                        .map(|_| ())
                        .map_err(anyhow::Error::from)
                }
                None => self
                    .store
                    .create(&key, "1".into())
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from),
            };
            match outcome {
                Ok(()) => return Ok(()),
                Err(err) => last = Some(err),
            }
        }
        Err(last
            .unwrap_or_else(|| anyhow::anyhow!("no attempt made"))
            .context(format!(
                "a failed login not counted after {INCREMENT_TRIES} tries"
            )))
    }

    /// Seconds until a full counter expires (at least 1).
    fn remaining(&self, count: Count) -> u64 {
        let elapsed = (OffsetDateTime::now_utc() - count.written)
            .whole_seconds()
            .max(0);
        self.limits
            .window_secs
            .saturating_sub(u64::try_from(elapsed).unwrap_or(0))
            .max(1)
    }
}

/// How many times a failure's compare-and-set is tried before the login gives up (503).
const INCREMENT_TRIES: usize = 50;

fn account_key(email_hash: &str) -> String {
    format!("account.{email_hash}")
}

fn pair_key(email_hash: &str, ip: IpAddr) -> String {
    format!("pair.{email_hash}.{}", address(ip))
}

fn ip_key(ip: IpAddr) -> String {
    format!("ip.{}", address(ip))
}

/// An address as a key part (KV keys allow `[-/_=.a-zA-Z0-9]`): an IPv4 address, or the /64
/// prefix of an IPv6 one.
fn address(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("v4-{}", v4.to_string().replace('.', "-")),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("v6-{a:x}-{b:x}-{c:x}-{d:x}")
        }
    }
}

fn parse_count(value: &[u8]) -> u32 {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn an_ipv6_client_counts_as_its_64_prefix_and_makes_a_valid_key() {
        assert_eq!(ip_key(ip("::1")), "ip.v6-0-0-0-0");
        assert_eq!(
            ip_key(ip("2001:db8:1:2:aaaa::1")),
            ip_key(ip("2001:db8:1:2:bbbb::7")),
            "one /64"
        );
        assert_ne!(ip_key(ip("2001:db8:1:2::1")), ip_key(ip("2001:db8:1:3::1")));
        assert_eq!(ip_key(ip("::ffff:203.0.113.9")), "ip.v4-203-0-113-9");
        assert_eq!(ip_key(ip("203.0.113.9")), "ip.v4-203-0-113-9");
        assert_eq!(pair_key("ab12", ip("127.0.0.2")), "pair.ab12.v4-127-0-0-2");
    }
}
