//! The erased ids: a keyed hash of every distinct id an erasure removed, kept in the JetStream
//! KV bucket [`ERASED_BUCKET`] and in memory, so that an event or link of an erased person
//! that still arrives (in flight, redelivered, replayed, redriven) is dropped instead of stored.
//!
//! The hash is HMAC-SHA256 of project and id under a random key made once (the first sink to
//! need it creates the bucket's `hmac-key` entry; a create fails when it exists, so every sink
//! agrees). The bucket holds no id in clear, and its list cannot be checked against guessed
//! ids without that key, which only the sink's NATS user may read. Every sink loads the bucket
//! before it stores anything and follows it, so an erasure one sink runs is seen by all.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use contract::streams::ERASED_BUCKET;
use futures_util::StreamExt as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use uuid::Uuid;

use crate::erasure::ids::named_by_row;
use crate::row::EventRow;

/// The bucket entry holding the key of the hashes.
const KEY_ENTRY: &str = "hmac-key";

/// The keyed hash of one distinct id of one project.
type IdHash = [u8; 32];

/// The erased ids, shared by every task of a sink (clones share one set). Empty, and not
/// [`Erased::loaded`], until [`Erased::follow`] read the bucket.
#[derive(Clone)]
pub struct Erased {
    inner: Arc<Inner>,
}

struct Inner {
    js: jetstream::Context,
    /// Servers the bucket is kept on when this sink creates it.
    replicas: usize,
    /// The bucket and the key, once opened.
    opened: tokio::sync::OnceCell<(kv::Store, [u8; 32])>,
    /// Per project, the hashes of its erased ids: a project without erasures costs no hash.
    ids: RwLock<HashMap<Uuid, HashSet<IdHash>>>,
    loaded: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Erased {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Erased").finish_non_exhaustive()
    }
}

/// What a bucket entry of an erased id says (never the id).
#[derive(Debug, serde::Serialize)]
struct Record {
    erasure_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    erased_at: time::OffsetDateTime,
}

impl Erased {
    /// The erased ids of the bucket on `js` (created on `replicas` servers when missing), not
    /// read yet.
    pub fn new(js: jetstream::Context, replicas: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                js,
                replicas: replicas.max(1),
                opened: tokio::sync::OnceCell::new(),
                ids: RwLock::default(),
                loaded: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    /// The erased ids as the bucket holds them now (for `sink replay`, which does not follow).
    pub async fn load(js: jetstream::Context, replicas: usize) -> anyhow::Result<Self> {
        let erased = Self::new(js, replicas);
        let mut watch = erased.watch().await?;
        erased.read_until_current(&mut watch).await?;
        Ok(erased)
    }

    /// Reads the bucket, then follows it until `stop`: every erasure any sink records is in
    /// this set soon after. Retries while NATS or the bucket is unavailable.
    pub(crate) async fn follow(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            let followed = async {
                let mut watch = self.watch().await?;
                self.read_until_current(&mut watch).await?;
                while let Some(entry) = watch.next().await {
                    self.apply(&entry?);
                }
                anyhow::Ok(())
            };
            tokio::select! {
                result = followed => if let Err(err) = result {
                    tracing::warn!(error = %err, "following the erased ids; trying again");
                },
                _ = stop.changed() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Waits until the bucket has been read, or `stop` turns true (false then).
    pub(crate) async fn loaded(&self, stop: &tokio::sync::watch::Receiver<bool>) -> bool {
        let mut loaded = self.inner.loaded.subscribe();
        let mut stop = stop.clone();
        loop {
            if *loaded.borrow_and_update() {
                return true;
            }
            if *stop.borrow() {
                return false;
            }
            tokio::select! {
                _ = loaded.changed() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Whether `distinct_id` of `project` was erased.
    pub fn contains(&self, project: Uuid, distinct_id: &str) -> bool {
        let ids = self
            .inner
            .ids
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(hashes) = ids.get(&project) else {
            return false;
        };
        let Some((_, key)) = self.inner.opened.get() else {
            return false;
        };
        hashes.contains(&hash(key, project, distinct_id))
    }

    /// Whether `row` names an erased id of its project, as its own or as the other id of the
    /// link it makes ([`crate::erasure::ids`]): such an event is never stored.
    pub(crate) fn names_row(&self, row: &EventRow) -> bool {
        self.has_project(row.project_id)
            && named_by_row(row).any(|id| self.contains(row.project_id, id))
    }

    /// Whether `project` has any erased id: when not, nothing of it needs a look.
    pub(crate) fn has_project(&self, project: Uuid) -> bool {
        self.inner
            .ids
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&project)
    }

    /// Records `ids` of `project` as erased by `erasure_id`: in the bucket first (every sink
    /// learns of them), then here.
    pub(crate) async fn record(
        &self,
        project: Uuid,
        ids: &[String],
        erasure_id: Uuid,
    ) -> anyhow::Result<()> {
        let (store, key) = self.opened().await?;
        let record = serde_json::to_vec(&Record {
            erasure_id,
            erased_at: time::OffsetDateTime::now_utc(),
        })?;
        for id in ids {
            let hashed = hash(key, project, id);
            store
                .put(entry_name(project, &hashed), record.clone().into())
                .await?;
            self.insert(project, hashed);
        }
        Ok(())
    }

    fn insert(&self, project: Uuid, hashed: IdHash) {
        self.inner
            .ids
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(project)
            .or_default()
            .insert(hashed);
    }

    /// An entry of the bucket, as a watch delivers it.
    fn apply(&self, entry: &kv::Entry) {
        if entry.operation != kv::Operation::Put {
            return;
        }
        if let Some((project, hashed)) = parse_entry_name(&entry.key) {
            self.insert(project, hashed);
        }
    }

    /// Every entry the bucket holds now, then what changes.
    async fn watch(&self) -> anyhow::Result<kv::Watch> {
        let (store, _) = self.opened().await?;
        Ok(store.watch_with_history(">").await?)
    }

    /// Applies the entries up to the bucket's current state (its key at least is there).
    async fn read_until_current(&self, watch: &mut kv::Watch) -> anyhow::Result<()> {
        while let Some(entry) = watch.next().await {
            let entry = entry?;
            self.apply(&entry);
            if entry.delta == 0 {
                self.inner.loaded.send_replace(true);
                return Ok(());
            }
        }
        anyhow::bail!("the erased ids' watch ended")
    }

    /// The bucket and the key, opened (or created) once.
    async fn opened(&self) -> anyhow::Result<&(kv::Store, [u8; 32])> {
        let js = &self.inner.js;
        self.inner
            .opened
            .get_or_try_init(|| async {
                let store = match js.get_key_value(ERASED_BUCKET).await {
                    Ok(store) => {
                        let stream = format!("KV_{ERASED_BUCKET}");
                        plumbing::streams::raise_replicas(js, &stream, self.inner.replicas).await;
                        store
                    }
                    Err(_) => {
                        // Kept on as many servers as the streams (a three-node cluster: 3).
                        let replicas = self.inner.replicas;
                        js.create_key_value(kv::Config {
                            bucket: ERASED_BUCKET.to_owned(),
                            description: "Keyed hashes of the erased persons' distinct ids"
                                .to_owned(),
                            history: 1,
                            storage: jetstream::stream::StorageType::File,
                            num_replicas: replicas,
                            ..Default::default()
                        })
                        .await?
                    }
                };
                let key = key_of(&store).await?;
                anyhow::Ok((store, key))
            })
            .await
    }
}

/// The key of the hashes: the bucket's, made now when no sink has made it yet.
async fn key_of(store: &kv::Store) -> anyhow::Result<[u8; 32]> {
    let mut fresh = [0_u8; 32];
    getrandom::fill(&mut fresh).map_err(|err| anyhow::anyhow!("no random key: {err}"))?;
    match store.create(KEY_ENTRY, fresh.to_vec().into()).await {
        Ok(_) => Ok(fresh),
        Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {
            let stored = store
                .get(KEY_ENTRY)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the key of the erased ids vanished"))?;
            <[u8; 32]>::try_from(stored.as_ref())
                .map_err(|_| anyhow::anyhow!("the key of the erased ids is not 32 bytes"))
        }
        Err(err) => Err(err.into()),
    }
}

/// HMAC-SHA256 of `project` and `distinct_id` under `key`.
fn hash(key: &[u8; 32], project: Uuid, distinct_id: &str) -> IdHash {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(project.as_bytes());
    mac.update(distinct_id.as_bytes());
    mac.finalize().into_bytes().into()
}

/// `id.<project>.<hash in hex>`.
fn entry_name(project: Uuid, hashed: &IdHash) -> String {
    let hex: String = hashed.iter().map(|b| format!("{b:02x}")).collect();
    format!("id.{project}.{hex}")
}

/// The project and hash an entry name says; `None` for the key's entry.
fn parse_entry_name(name: &str) -> Option<(Uuid, IdHash)> {
    let mut parts = name.split('.');
    let (Some("id"), Some(project), Some(hex), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let project = Uuid::parse_str(project).ok()?;
    let mut hashed = [0_u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (byte, pair) in hashed.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some((project, hashed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_name_holds_the_project_and_the_keyed_hash_and_never_the_id() {
        let (key, other_key) = ([7; 32], [8; 32]);
        let project = Uuid::now_v7();
        let hashed = hash(&key, project, "user-1");
        assert_ne!(hashed, hash(&other_key, project, "user-1"));
        assert_ne!(hashed, hash(&key, Uuid::now_v7(), "user-1"));
        assert_ne!(hashed, hash(&key, project, "user-2"));
        let name = entry_name(project, &hashed);
        assert!(!name.contains("user-1"), "{name}");
        assert_eq!(parse_entry_name(&name), Some((project, hashed)));
        assert_eq!(parse_entry_name(KEY_ENTRY), None);
        assert_eq!(parse_entry_name(&format!("id.{project}.abc")), None);
    }
}
