//! Who a caller is and which projects they may read: a signed-in user (their token), an API key
//! (its owner, read-only, limited to the projects it lists), or the visitor of a shared link
//! (that link's dashboard only). Each is checked again on every call, so a change of membership,
//! a revoked key or a revoked link applies at once, whatever the token's lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::auth::{ProjectRole, Role};
use plumbing::projects::Projects;
use uuid::Uuid;

/// How a caller proved who they are.
#[derive(Debug, Clone)]
pub(crate) enum Via {
    /// A token from a password login.
    Token,
    /// An API key, by its SHA-256 (to find it again: it may be revoked meanwhile; the key
    /// itself is never kept).
    ApiKey { key_hash: String },
    /// A shared link's tile: its project only, and only the tile's own query (the route that
    /// runs it builds the call; nothing else takes this caller).
    Share { project: Uuid },
}

/// A caller of the query API.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    /// The user (an API key's owner); nil for a shared link.
    pub(crate) user: Uuid,
    /// The global role; an API key and a shared link act as a plain user.
    pub(crate) role: Role,
    pub(crate) via: Via,
    /// Seconds since the epoch when the credential stops working (a live feed ends then).
    pub(crate) expires: i64,
}

impl Who {
    /// A signed-in user by their token.
    pub(crate) fn token(claims: &contract::auth::Claims) -> Self {
        Self {
            user: claims.sub,
            role: claims.role,
            via: Via::Token,
            expires: claims.exp,
        }
    }

    /// Whether this caller may change data (erase or export a person): a signed-in user only.
    pub(crate) fn signed_in(&self) -> bool {
        matches!(self.via, Via::Token)
    }
}

/// Whether `caller` may read `project_id`: an instance admin or a member of it by their token;
/// a member of it by a live key that lists it (or lists none); a shared link of it.
pub(crate) fn may_read(projects: &Projects, caller: &Who, project_id: Uuid) -> bool {
    match &caller.via {
        Via::Token => {
            caller.role == Role::Admin || projects.member_role(project_id, caller.user).is_some()
        }
        Via::ApiKey { key_hash } => {
            projects
                .api_key_by_hash(key_hash)
                .is_some_and(|grant| grant.covers(project_id))
                && projects.member_role(project_id, caller.user).is_some()
        }
        Via::Share { project } => *project == project_id,
    }
}

/// Whether `caller` manages `project_id` (its persons' erasure and export): an instance admin
/// or an admin of the project, signed in.
pub(crate) fn may_manage(projects: &Projects, caller: &Who, project_id: Uuid) -> bool {
    caller.signed_in()
        && (caller.role == Role::Admin
            || projects.member_role(project_id, caller.user) == Some(ProjectRole::Admin))
}

/// How often a key's use is told to auth, at most.
const USAGE_EVERY: Duration = Duration::from_secs(60);

/// When each API key was last told to auth as used: auth shows it as the key's last use.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyUsage {
    told: Arc<Mutex<HashMap<Uuid, Instant>>>,
}

impl KeyUsage {
    /// Tells auth that `key_id` was used now, unless it was told less than a minute ago. A
    /// lost message only leaves the last use older than it was.
    pub(crate) fn record(&self, nats: &async_nats::Client, key_id: Uuid) {
        let now = Instant::now();
        {
            let mut told = self
                .told
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if told
                .get(&key_id)
                .is_some_and(|at| now.duration_since(*at) < USAGE_EVERY)
            {
                return;
            }
            told.insert(key_id, now);
        }
        let at = jiff::Timestamp::now().to_string();
        let nats = nats.clone();
        tokio::spawn(async move {
            let subject = contract::auth::api_key_usage_subject(key_id);
            if let Err(err) = nats.publish(subject, at.into()).await {
                tracing::debug!(error = %err, "API key use not told");
            }
        });
    }
}
