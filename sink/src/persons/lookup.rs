//! Which person each distinct id is, for code in the sink that groups events by person (the
//! sessions): [`PersonKeys::person_keys`] answers from a cache, and asks `person_ids` for
//! what it does not hold.
//!
//! A person is named by its `person_key`, its canonical distinct id; an id without a row is
//! its own person. The cache keeps an answer for [`TTL`]: a merge this sink applies drops the
//! project's answers at once, a merge another sink replica applies is seen within the TTL.
//! Queries do not depend on this: they resolve ids in ClickHouse when they read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long an answer is kept.
pub const TTL: Duration = Duration::from_secs(60);

/// Most answers kept; past it the cache starts again empty.
const MAX_ENTRIES: usize = 200_000;

/// Distinct ids per query: well under ClickHouse's default `max_query_size` (256 KiB).
const CHUNK: usize = 2_000;

/// Answers by project and distinct id: the person key, and when it was read.
type Cache = HashMap<(Uuid, String), (String, Instant)>;

/// The cached lookup of persons by distinct id; clones share one cache.
#[derive(Clone)]
pub struct PersonKeys {
    clickhouse: clickhouse::Client,
    cache: Arc<Mutex<Cache>>,
}

impl std::fmt::Debug for PersonKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonKeys").finish_non_exhaustive()
    }
}

impl PersonKeys {
    /// A lookup reading `person_ids` through `clickhouse` (a client on the events database).
    pub fn new(clickhouse: clickhouse::Client) -> Self {
        Self {
            clickhouse,
            cache: Arc::default(),
        }
    }

    /// The person key of each of `distinct_ids` in `project` (every id is in the answer).
    pub async fn person_keys(
        &self,
        project: Uuid,
        distinct_ids: &[String],
    ) -> Result<HashMap<String, String>, clickhouse::error::Error> {
        let mut answer = HashMap::with_capacity(distinct_ids.len());
        let mut missing = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            for id in distinct_ids {
                match cache.get(&(project, id.clone())) {
                    Some((key, at)) if at.elapsed() < TTL => {
                        answer.insert(id.clone(), key.clone());
                    }
                    _ => missing.push(id.clone()),
                }
            }
        }
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(CHUNK) {
            let found = self.read(project, chunk).await?;
            let now = Instant::now();
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() + chunk.len() > MAX_ENTRIES {
                cache.clear();
            }
            for id in chunk {
                let key = found.get(id).unwrap_or(id).clone();
                cache.insert((project, id.clone()), (key.clone(), now));
                answer.insert(id.clone(), key);
            }
        }
        Ok(answer)
    }

    /// Drops the answers of `project`: a merge changed some of them.
    pub(crate) fn forget(&self, project: Uuid) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(cached, _), _| *cached != project);
    }

    /// The person key of each of `ids` that has a row.
    async fn read(
        &self,
        project: Uuid,
        ids: &[String],
    ) -> Result<HashMap<String, String>, clickhouse::error::Error> {
        let sql = lookup_sql(ids.len());
        let mut query = self.clickhouse.query(&sql).bind(project.to_string());
        for id in ids {
            query = query.bind(id.as_str());
        }
        let rows: Vec<(String, String)> = query.fetch_all().await?;
        Ok(rows.into_iter().collect())
    }
}

/// The person key of `ids` ids that have a row (project, then the ids).
pub(crate) fn lookup_sql(ids: usize) -> String {
    format!(
        "SELECT distinct_id, argMax(person_key, version) FROM person_ids \
         WHERE project_id = ? AND distinct_id IN ({}) GROUP BY distinct_id",
        plumbing::clickhouse::placeholders(ids)
    )
}
