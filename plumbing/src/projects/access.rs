//! Who else may read a project through query, kept from the `AUTH` stream beside the projects:
//! API keys (by the SHA-256 of the key) and shared links (by the SHA-256 of the link's token),
//! with the saved insights and dashboards a shared link shows.

use std::collections::HashMap;

use contract::auth::{AuthEvent, InsightKind, InsightQuery};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// A live API key: whose it is and what it may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyGrant {
    pub key_id: Uuid,
    /// Its owner: the key reads only projects they are a member of.
    pub user_id: Uuid,
    /// Only these projects; `None`: every project of its owner.
    pub project_ids: Option<Vec<Uuid>>,
    /// Seconds since the epoch after which it no longer works.
    pub expires_at: Option<i64>,
}

impl ApiKeyGrant {
    /// Whether the key lists `project_id` (or lists none).
    pub fn covers(&self, project_id: Uuid) -> bool {
        self.project_ids
            .as_ref()
            .is_none_or(|projects| projects.contains(&project_id))
    }
}

/// A saved insight: the analysis a tile runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedInsight {
    pub project_id: Uuid,
    pub name: String,
    pub kind: InsightKind,
    pub query: InsightQuery,
}

/// A live shared link and the dashboard it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedLink {
    pub share_id: Uuid,
    pub project_id: Uuid,
    pub dashboard_id: Uuid,
    /// The dashboard's name.
    pub name: String,
    /// Its tiles in order, the insights deleted since left out.
    pub insight_ids: Vec<Uuid>,
    /// argon2id PHC string, when the link has a password.
    pub password_hash: Option<String>,
    pub embed_origins: Vec<String>,
}

#[derive(Debug, Clone)]
struct Dashboard {
    project_id: Uuid,
    name: String,
    insight_ids: Vec<Uuid>,
}

#[derive(Debug, Clone)]
struct Share {
    share_id: Uuid,
    project_id: Uuid,
    dashboard_id: Uuid,
    password_hash: Option<String>,
    embed_origins: Vec<String>,
}

/// The SHA-256 (hex) under which the stream keeps an API key or a link's token.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[derive(Debug, Default)]
pub(super) struct Access {
    api_keys: HashMap<String, ApiKeyGrant>,
    api_key_hashes: HashMap<Uuid, String>,
    insights: HashMap<Uuid, SavedInsight>,
    dashboards: HashMap<Uuid, Dashboard>,
    shares: HashMap<String, Share>,
    share_hashes: HashMap<Uuid, String>,
}

impl Access {
    /// Applies one event; true when it took a credential away (a live feed then checks again).
    pub(super) fn apply(&mut self, event: AuthEvent) -> bool {
        match event {
            AuthEvent::ApiKeyCreated {
                key_id,
                user_id,
                key_hash,
                project_ids,
                expires_at,
                ..
            } => {
                let grant = ApiKeyGrant {
                    key_id,
                    user_id,
                    project_ids,
                    expires_at: expires_at.map(|at| at.unix_timestamp()),
                };
                self.api_key_hashes.insert(key_id, key_hash.clone());
                self.api_keys.insert(key_hash, grant);
                false
            }
            AuthEvent::ApiKeyRevoked { key_id, .. } => self
                .api_key_hashes
                .remove(&key_id)
                .is_some_and(|hash| self.api_keys.remove(&hash).is_some()),
            AuthEvent::ShareCreated {
                project_id,
                share_id,
                dashboard_id,
                token_hash,
                password_hash,
                embed_origins,
                ..
            } => {
                let share = Share {
                    share_id,
                    project_id,
                    dashboard_id,
                    password_hash,
                    embed_origins,
                };
                self.share_hashes.insert(share_id, token_hash.clone());
                self.shares.insert(token_hash, share);
                false
            }
            AuthEvent::ShareRevoked { share_id, .. } => self
                .share_hashes
                .remove(&share_id)
                .is_some_and(|hash| self.shares.remove(&hash).is_some()),
            other => self.apply_saved(other),
        }
    }

    /// Applies an insight or dashboard event; true when a dashboard went (its links with it).
    fn apply_saved(&mut self, event: AuthEvent) -> bool {
        match event {
            AuthEvent::InsightSaved {
                project_id,
                insight_id,
                name,
                kind,
                query,
                ..
            } => {
                let insight = SavedInsight {
                    project_id,
                    name,
                    kind,
                    query,
                };
                self.insights.insert(insight_id, insight);
                false
            }
            AuthEvent::InsightDeleted { insight_id, .. } => {
                self.insights.remove(&insight_id);
                false
            }
            AuthEvent::DashboardSaved {
                project_id,
                dashboard_id,
                name,
                insight_ids,
                ..
            } => {
                let dashboard = Dashboard {
                    project_id,
                    name,
                    insight_ids,
                };
                self.dashboards.insert(dashboard_id, dashboard);
                false
            }
            AuthEvent::DashboardDeleted { dashboard_id, .. } => {
                self.dashboards.remove(&dashboard_id).is_some()
            }
            _ => false,
        }
    }

    pub(super) fn api_key(&self, key_hash: &str) -> Option<ApiKeyGrant> {
        self.api_keys.get(key_hash).cloned()
    }

    pub(super) fn insight(&self, insight_id: Uuid) -> Option<SavedInsight> {
        self.insights.get(&insight_id).cloned()
    }

    /// The link of `token_hash`, while it and its dashboard live.
    pub(super) fn shared(&self, token_hash: &str) -> Option<SharedLink> {
        let share = self.shares.get(token_hash)?;
        let dashboard = self
            .dashboards
            .get(&share.dashboard_id)
            .filter(|dashboard| dashboard.project_id == share.project_id)?;
        let insight_ids = dashboard
            .insight_ids
            .iter()
            .copied()
            .filter(|id| {
                self.insights
                    .get(id)
                    .is_some_and(|insight| insight.project_id == share.project_id)
            })
            .collect();
        Some(SharedLink {
            share_id: share.share_id,
            project_id: share.project_id,
            dashboard_id: share.dashboard_id,
            name: dashboard.name.clone(),
            insight_ids,
            password_hash: share.password_hash.clone(),
            embed_origins: share.embed_origins.clone(),
        })
    }
}
