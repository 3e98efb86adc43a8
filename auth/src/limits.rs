//! Brute-force limits on login: failed attempts counted per account and per client IP in a
//! JetStream key-value bucket, so every auth replica sees the same counters. An entry expires a
//! window after the last failure; a success clears the account's counter.

use std::net::IpAddr;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use time::OffsetDateTime;

/// The bucket's name (a stream `KV_AUTH_LOGIN_FAILURES`).
pub const BUCKET: &str = "AUTH_LOGIN_FAILURES";

/// How many failures lock what, for how long.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`, default 10.
    pub per_account: u32,
    /// `LOGIN_MAX_FAILURES_PER_IP`, default 100.
    pub per_ip: u32,
    /// `LOGIN_FAILURE_WINDOW_SECS`, default 900: a lock lasts this long after the last failure.
    pub window_secs: u64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account: 10,
            per_ip: 100,
            window_secs: 900,
        }
    }
}

/// The counters.
#[derive(Debug, Clone)]
pub struct Failures {
    store: kv::Store,
    limits: LoginLimits,
}

impl Failures {
    /// Opens the bucket, creating it on first use.
    pub async fn open(js: &jetstream::Context, limits: LoginLimits) -> anyhow::Result<Self> {
        let store = match js.get_key_value(BUCKET).await {
            Ok(store) => store,
            Err(_) => {
                js.create_key_value(kv::Config {
                    bucket: BUCKET.to_owned(),
                    description: "Failed logins per account and per client IP".to_owned(),
                    history: 1,
                    max_age: Duration::from_secs(limits.window_secs),
                    storage: jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await?
            }
        };
        Ok(Self { store, limits })
    }

    /// `Some(seconds to wait)` when the account or the address is locked.
    pub async fn locked(
        &self,
        email_hash: &str,
        ip: Option<IpAddr>,
    ) -> anyhow::Result<Option<u64>> {
        let mut wait = None;
        for (key, limit) in self.keys(email_hash, ip) {
            if let Some(entry) = self.store.entry(&key).await?
                && entry.operation == kv::Operation::Put
                && parse_count(&entry.value) >= limit
            {
                let elapsed = (OffsetDateTime::now_utc() - entry.created)
                    .whole_seconds()
                    .max(0);
                let remaining = self
                    .limits
                    .window_secs
                    .saturating_sub(u64::try_from(elapsed).unwrap_or(0))
                    .max(1);
                wait = Some(wait.map_or(remaining, |w: u64| w.max(remaining)));
            }
        }
        Ok(wait)
    }

    /// Counts one failure against the account and the address.
    pub async fn record_failure(&self, email_hash: &str, ip: Option<IpAddr>) -> anyhow::Result<()> {
        for (key, _) in self.keys(email_hash, ip) {
            // Compare-and-set, retried: concurrent failures on other replicas all count.
            for _ in 0..10 {
                let outcome = match self.store.entry(&key).await? {
                    Some(entry) if entry.operation == kv::Operation::Put => {
                        let next = parse_count(&entry.value) + 1;
                        self.store
                            .update(&key, next.to_string().into(), entry.revision)
                            .await
                            .map(|_| ())
                            .map_err(anyhow::Error::from)
                    }
                    Some(entry) => self
                        .store
                        .update(&key, "1".into(), entry.revision)
                        .await
                        .map(|_| ())
                        .map_err(anyhow::Error::from),
                    None => self
                        .store
                        .create(&key, "1".into())
                        .await
                        .map(|_| ())
                        .map_err(anyhow::Error::from),
                };
                if outcome.is_ok() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Clears the account's counter after a successful login.
    pub async fn clear_account(&self, email_hash: &str) -> anyhow::Result<()> {
        self.store.purge(account_key(email_hash)).await?;
        Ok(())
    }

    fn keys(&self, email_hash: &str, ip: Option<IpAddr>) -> Vec<(String, u32)> {
        let mut keys = vec![(account_key(email_hash), self.limits.per_account)];
        if let Some(ip) = ip {
            keys.push((ip_key(ip), self.limits.per_ip));
        }
        keys
    }
}

fn account_key(email_hash: &str) -> String {
    format!("account.{email_hash}")
}

/// KV keys allow `[-/_=.a-zA-Z0-9]`: an address with `.` and `:` replaced.
fn ip_key(ip: IpAddr) -> String {
    format!("ip.{}", ip.to_string().replace(['.', ':'], "-"))
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

    #[test]
    fn an_ipv6_address_makes_a_valid_key() {
        assert_eq!(ip_key("::1".parse().expect("ip")), "ip.--1");
    }
}
