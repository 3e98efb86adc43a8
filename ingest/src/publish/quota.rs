//! Intake quotas: what a project may store a second, in events and in bytes, and what one
//! dashboard user may send through `POST /api/events`, so that no project (and no signed-in
//! user) can fill the `EVENTS` stream for the others. A request is charged after its events are
//! encoded and before any is published; over a quota it publishes nothing and is answered 429
//! with `Retry-After`, and only that project (or user) waits.
//!
//! The buckets live in this process: each replica takes its share of a budget
//! (`INGEST_REPLICAS`), so the budgets hold across replicas as long as the load balancer spreads
//! a project's requests evenly.

use std::time::Duration;

use plumbing::config::{ConfigError, var_or};
use plumbing::projects::Projects;
use plumbing::ratelimit::{Cost, Rate, RateLimiter};
use uuid::Uuid;

/// A budget may be spent this many seconds' worth at once (a burst after a quiet spell).
const BURST_SECS: u64 = 5;

/// The quotas ingest applies; every rate is per second across all replicas, 0 for no limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaConfig {
    /// Events a project may store, unless its admin set its own
    /// (`PROJECT_EVENTS_PER_SECOND`, default 1000).
    pub project_events_per_second: u64,
    /// Bytes of encoded events a project may store, unless its admin set its own
    /// (`PROJECT_BYTES_PER_SECOND`, default 8 MiB).
    pub project_bytes_per_second: u64,
    /// Bytes of encoded events one user may send through `POST /api/events`
    /// (`USER_EVENT_BYTES_PER_SECOND`, default 1 MiB).
    pub user_bytes_per_second: u64,
    /// Ingest replicas sharing these budgets, each counting on its own (`INGEST_REPLICAS`,
    /// default 1).
    pub replicas: u64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            project_events_per_second: 1_000,
            project_bytes_per_second: 8 * 1024 * 1024,
            user_bytes_per_second: 1024 * 1024,
            replicas: 1,
        }
    }
}

impl QuotaConfig {
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let replicas = var_or("INGEST_REPLICAS", defaults.replicas)?;
        if replicas == 0 {
            return Err(ConfigError {
                name: "INGEST_REPLICAS".to_owned(),
                problem: "must be at least 1".to_owned(),
            });
        }
        Ok(Self {
            project_events_per_second: var_or(
                "PROJECT_EVENTS_PER_SECOND",
                defaults.project_events_per_second,
            )?,
            project_bytes_per_second: var_or(
                "PROJECT_BYTES_PER_SECOND",
                defaults.project_bytes_per_second,
            )?,
            user_bytes_per_second: var_or(
                "USER_EVENT_BYTES_PER_SECOND",
                defaults.user_bytes_per_second,
            )?,
            replicas,
        })
    }

    /// No quota at all: for benchmarks that measure capacity.
    pub fn unlimited() -> Self {
        Self {
            project_events_per_second: 0,
            project_bytes_per_second: 0,
            user_bytes_per_second: 0,
            replicas: 1,
        }
    }

    /// This replica's share of `per_second`.
    fn rate(&self, per_second: u64) -> Rate {
        Rate::sustained(per_second, BURST_SECS).divided_by(self.replicas)
    }
}

/// What a request would store, by project: events and bytes.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    /// One entry per project; a request names one, seldom two.
    projects: Vec<ProjectUsage>,
}

#[derive(Debug, Clone, Copy)]
struct ProjectUsage {
    project_id: Uuid,
    events: u64,
    bytes: u64,
}

impl Usage {
    /// Counts one event of `bytes` for `project_id`.
    pub(crate) fn add(&mut self, project_id: Uuid, bytes: usize) {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        match self
            .projects
            .iter_mut()
            .find(|usage| usage.project_id == project_id)
        {
            Some(usage) => {
                usage.events += 1;
                usage.bytes = usage.bytes.saturating_add(bytes);
            }
            None => self.projects.push(ProjectUsage {
                project_id,
                events: 1,
                bytes,
            }),
        }
    }

    fn bytes(&self) -> u64 {
        self.projects
            .iter()
            .fold(0, |sum, usage| sum.saturating_add(usage.bytes))
    }
}

/// A request over a quota: how long to wait, and which budget it spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many {what}")]
pub(crate) struct OverQuota {
    pub(crate) wait: Duration,
    pub(crate) what: &'static str,
}

/// The buckets of every project and user, and the defaults they start from.
#[derive(Debug)]
pub(crate) struct Quotas {
    config: QuotaConfig,
    buckets: RateLimiter,
}

impl Quotas {
    pub(crate) fn new(config: QuotaConfig) -> Self {
        Self {
            config,
            // Every cost names its own rate; the limiter's own is never used.
            buckets: RateLimiter::new(Rate::per_second(0)),
        }
    }

    /// Charges `usage` to its projects' budgets (each project's own quota from `projects`,
    /// else the defaults) and, for a dashboard request, its bytes to `user`'s: all of it, or
    /// nothing when one budget lacks its share.
    pub(crate) fn charge(
        &self,
        projects: &Projects,
        usage: &Usage,
        user: Option<Uuid>,
    ) -> Result<(), OverQuota> {
        let keys: Vec<(String, String)> = usage
            .projects
            .iter()
            .map(|usage| {
                (
                    format!("events:{}", usage.project_id),
                    format!("bytes:{}", usage.project_id),
                )
            })
            .collect();
        let user_key = user.map(|user| format!("user:{user}"));
        let mut costs = Vec::with_capacity(2 * keys.len() + 1);
        let mut budgets = Vec::with_capacity(costs.capacity());
        for (usage, (events_key, bytes_key)) in usage.projects.iter().zip(&keys) {
            let own = projects.quota(usage.project_id);
            costs.push(Cost {
                key: events_key,
                amount: usage.events,
                rate: self.config.rate(
                    own.events_per_second
                        .unwrap_or(self.config.project_events_per_second),
                ),
            });
            budgets.push("events for this project");
            costs.push(Cost {
                key: bytes_key,
                amount: usage.bytes,
                rate: self.config.rate(
                    own.bytes_per_second
                        .unwrap_or(self.config.project_bytes_per_second),
                ),
            });
            budgets.push("event bytes for this project");
        }
        if let Some(user_key) = &user_key {
            costs.push(Cost {
                key: user_key,
                amount: usage.bytes(),
                rate: self.config.rate(self.config.user_bytes_per_second),
            });
            budgets.push("event bytes from this user");
        }
        self.buckets.take(&costs).map_err(|refused| OverQuota {
            wait: refused.wait,
            what: budgets
                .get(refused.index)
                .copied()
                .unwrap_or("events for this project"),
        })
    }
}
