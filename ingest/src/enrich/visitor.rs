//! Cookieless visitor ids for the scripts that send none (Plausible, Umami). A visitor is a
//! keyed hash of project, client address and user agent under a secret salt of the day
//! (Plausible's scheme), so no cookie is needed, the raw address is never stored, and the id
//! cannot be reversed by hashing every IPv4 address: the salt is random, shared by the replicas
//! through JetStream KV, and deleted after two days, after which nobody can link a visitor's
//! days.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use time::Date;
use uuid::Uuid;

/// How long a day's salt is kept: past it, the ids of that day cannot be linked to a visitor's
/// later ids, nor recomputed from an address.
pub const SALT_MAX_AGE: Duration = Duration::from_secs(2 * 24 * 60 * 60);

/// The visitor id of `ip` + `user_agent` on `project_id`: HMAC-SHA256 under the day's `salt`,
/// its first 12 bytes in hex. Stable for one UTC day, unrelated across days.
pub fn daily_visitor(salt: &Salt, project_id: Uuid, ip: &str, user_agent: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&salt.0).expect("HMAC takes a key of any length");
    mac.update(project_id.as_bytes());
    mac.update(ip.as_bytes());
    // A separator, so that no address and agent pair reads as another.
    mac.update(&[0]);
    mac.update(user_agent.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// A day's secret salt.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; 32]);

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// Why no salt could be had.
#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    #[error("the salt bucket: {0}")]
    Bucket(String),
    #[error("no randomness for a salt: {0}")]
    Random(String),
    #[error("the salt of {0} is not 32 bytes")]
    Malformed(Date),
}

/// The daily salts, in the JetStream KV bucket [`contract::streams::VISITOR_SALTS_BUCKET`]
/// (opened, or created, on first use): the first replica to need a day's salt creates it (a
/// create that fails when the key exists), every other one reads that one, so all agree. The
/// bucket's age limit deletes each salt [`SALT_MAX_AGE`] after it was made. The salts of the
/// last two days used are kept in memory.
#[derive(Clone)]
pub struct Salts {
    inner: Arc<SaltsInner>,
}

struct SaltsInner {
    js: jetstream::Context,
    max_age: Duration,
    /// Servers the bucket is kept on when this replica creates it.
    replicas: usize,
    store: tokio::sync::OnceCell<kv::Store>,
    days: Mutex<Vec<(Date, Salt)>>,
}

impl std::fmt::Debug for Salts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salts")
            .field("max_age", &self.inner.max_age)
            .finish_non_exhaustive()
    }
}

impl Salts {
    pub fn new(js: jetstream::Context) -> Self {
        Self::with_max_age(js, SALT_MAX_AGE)
    }

    /// Salts kept `max_age` instead of two days, for tests that watch one expire.
    pub fn with_max_age(js: jetstream::Context, max_age: Duration) -> Self {
        Self::build(js, max_age, 1)
    }

    fn build(js: jetstream::Context, max_age: Duration, replicas: usize) -> Self {
        Self {
            inner: Arc::new(SaltsInner {
                js,
                max_age,
                replicas,
                store: tokio::sync::OnceCell::new(),
                days: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The same salts, their bucket kept on `replicas` servers when created here (3 on a
    /// three-node cluster, so that the loss of one server loses no salt).
    pub fn replicated(self, replicas: usize) -> Self {
        Self::build(self.inner.js.clone(), self.inner.max_age, replicas.max(1))
    }

    /// The salt of `date` (UTC), made now when no replica has made it yet.
    pub async fn for_day(&self, date: Date) -> Result<Salt, SaltError> {
        if let Some(salt) = self.cached(date) {
            return Ok(salt);
        }
        let store = self.store().await?;
        let key = date.to_string();
        let mut fresh = [0_u8; 32];
        getrandom::fill(&mut fresh).map_err(|err| SaltError::Random(err.to_string()))?;
        let salt = match store.create(&key, fresh.to_vec().into()).await {
            Ok(_) => Salt(fresh),
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {
                let stored = store
                    .get(&key)
                    .await
                    .map_err(|err| SaltError::Bucket(err.to_string()))?
                    .ok_or_else(|| SaltError::Bucket(format!("the salt of {key} vanished")))?;
                Salt(
                    <[u8; 32]>::try_from(stored.as_ref())
                        .map_err(|_| SaltError::Malformed(date))?,
                )
            }
            Err(err) => return Err(SaltError::Bucket(err.to_string())),
        };
        let mut days = self.days();
        days.retain(|(day, _)| *day != date);
        days.push((date, salt.clone()));
        days.sort_by_key(|(day, _)| std::cmp::Reverse(*day));
        days.truncate(2);
        Ok(salt)
    }

    fn cached(&self, date: Date) -> Option<Salt> {
        self.days()
            .iter()
            .find(|(day, _)| *day == date)
            .map(|(_, salt)| salt.clone())
    }

    fn days(&self) -> std::sync::MutexGuard<'_, Vec<(Date, Salt)>> {
        self.inner
            .days
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The bucket, opened or created once; a failure is tried again by the next request.
    async fn store(&self) -> Result<&kv::Store, SaltError> {
        let inner = &self.inner;
        inner
            .store
            .get_or_try_init(|| async {
                let bucket = contract::streams::VISITOR_SALTS_BUCKET;
                if let Ok(store) = inner.js.get_key_value(bucket).await {
                    let stream = format!("KV_{bucket}");
                    plumbing::streams::raise_replicas(&inner.js, &stream, inner.replicas).await;
                    return Ok(store);
                }
                inner
                    .js
                    .create_key_value(kv::Config {
                        bucket: contract::streams::VISITOR_SALTS_BUCKET.to_owned(),
                        description: "Daily secret salts of cookieless visitor ids".to_owned(),
                        history: 1,
                        max_age: inner.max_age,
                        storage: jetstream::stream::StorageType::File,
                        num_replicas: inner.replicas,
                        ..Default::default()
                    })
                    .await
                    .map_err(|err| SaltError::Bucket(err.to_string()))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_is_a_keyed_hash_stable_under_one_salt() {
        let project = Uuid::now_v7();
        let (salt, other) = (Salt([1; 32]), Salt([2; 32]));
        let a = daily_visitor(&salt, project, "203.0.113.7", "UA");
        assert_eq!(a, daily_visitor(&salt, project, "203.0.113.7", "UA"));
        assert_ne!(a, daily_visitor(&salt, Uuid::now_v7(), "203.0.113.7", "UA"));
        assert_ne!(a, daily_visitor(&salt, project, "203.0.113.8", "UA"));
        assert_ne!(a, daily_visitor(&other, project, "203.0.113.7", "UA"));
        assert_eq!(a.len(), 24);
        assert_eq!(format!("{salt:?}"), "Salt(..)", "a salt never prints");
    }
}
