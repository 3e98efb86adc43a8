//! Projects, their write keys and their members, kept in memory from the `AUTH` stream: ingest
//! validates an SDK's key and finds its project and the project's own intake quota, and query
//! finds a project's time zone, whether a caller is one of its members, an API key and a shared
//! link (`access`), with no database round trip. An ordered consumer replays every project and
//! API key event from the start, then follows new ones as they are published, so a revoked key
//! stops working, and a changed quota applies, within moments.

mod access;

pub use access::{ApiKeyGrant, SavedInsight, SharedLink, secret_hash};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use contract::auth::{API_KEY_SUBJECTS, AuthEvent, PROJECT_SUBJECTS, ProjectQuota, ProjectRole};
use contract::streams::AUTH_STREAM;
use futures_util::StreamExt as _;
use uuid::Uuid;

#[derive(Debug, Default)]
struct Keys {
    /// Live key -> project.
    projects: HashMap<String, Uuid>,
    /// Key id -> key, to find what a revocation removes.
    by_id: HashMap<Uuid, String>,
    /// Every project -> its IANA time zone (Umami names the project by its id).
    projects_known: HashMap<Uuid, String>,
    /// Site domain -> project (Plausible names the site by its domain).
    domains: HashMap<String, Uuid>,
    /// Project -> the site domains its admin listed (the hosts its script events may come from).
    sites: HashMap<Uuid, Vec<String>>,
    /// Project -> the intake quota its admin set (absent: the defaults).
    quotas: HashMap<Uuid, ProjectQuota>,
    /// (project, user) -> the user's role on the project, while they are a member.
    members: HashMap<(Uuid, Uuid), ProjectRole>,
    /// API keys, shared links and what those show.
    access: access::Access,
    /// Stream sequence of the last event seen.
    last_sequence: u64,
    /// The replay reached the stream's end as it was at start.
    caught_up: bool,
    /// When the reader last heard from its consumer (an event or an idle wait).
    alive_at: Option<std::time::Instant>,
}

/// How recently the reader must have heard from NATS for the map to count as current.
const FOLLOWING_WITHIN: Duration = Duration::from_secs(5);

impl Keys {
    /// Applies one project or API key event; the other auth events change nothing here. True
    /// when it changed who may read what (a member, or a credential taken away).
    fn apply(&mut self, event: AuthEvent) -> bool {
        match event {
            AuthEvent::ProjectCreated {
                project_id,
                timezone,
                ..
            } => {
                self.projects_known.insert(project_id, timezone);
            }
            AuthEvent::ProjectDomainsSet {
                project_id,
                domains,
                ..
            } => {
                self.domains.retain(|_, owner| *owner != project_id);
                let domains: Vec<String> = domains
                    .iter()
                    .map(|domain| domain.trim().trim_end_matches('.').to_ascii_lowercase())
                    .filter(|domain| !domain.is_empty())
                    .collect();
                // The first project to list a domain keeps it (auth refuses a second).
                for domain in &domains {
                    self.domains.entry(domain.clone()).or_insert(project_id);
                }
                self.sites.insert(project_id, domains);
            }
            AuthEvent::ProjectQuotaSet {
                project_id,
                events_per_second,
                bytes_per_second,
                ..
            } => {
                let quota = ProjectQuota {
                    events_per_second,
                    bytes_per_second,
                };
                self.quotas.insert(project_id, quota);
            }
            AuthEvent::WriteKeyIssued {
                project_id,
                key_id,
                key,
                ..
            } => {
                self.projects_known
                    .entry(project_id)
                    .or_insert_with(|| "UTC".to_owned());
                self.projects.insert(key.clone(), project_id);
                self.by_id.insert(key_id, key);
            }
            AuthEvent::WriteKeyRevoked { key_id, .. } => {
                if let Some(key) = self.by_id.remove(&key_id) {
                    self.projects.remove(&key);
                }
            }
            AuthEvent::MemberSet {
                project_id,
                user_id,
                role,
                ..
            } => {
                self.members.insert((project_id, user_id), role);
                return true;
            }
            AuthEvent::MemberRemoved {
                project_id,
                user_id,
                ..
            } => {
                self.members.remove(&(project_id, user_id));
                return true;
            }
            other => return self.access.apply(other),
        }
        false
    }
}

/// The shared project map.
#[derive(Debug, Clone)]
pub struct Projects {
    inner: Arc<RwLock<Keys>>,
    /// Counts the changes of who may read what, for whoever watches them.
    access_changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for Projects {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            access_changes: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

impl Projects {
    /// The role of `user_id` on `project_id` while they are a member of it.
    pub fn member_role(&self, project_id: Uuid, user_id: Uuid) -> Option<ProjectRole> {
        self.read().members.get(&(project_id, user_id)).copied()
    }

    /// Moves whenever a member is added, changed or removed, or an API key, a shared link or
    /// a shared dashboard goes away (a live feed then checks whether its caller may still read
    /// its project).
    pub fn access_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.access_changes.subscribe()
    }

    /// The live API key whose SHA-256 (hex) is `key_hash`, expired or not.
    pub fn api_key_by_hash(&self, key_hash: &str) -> Option<ApiKeyGrant> {
        self.read().access.api_key(key_hash)
    }

    /// Whether the map follows the stream right now: its reader heard from NATS within the
    /// last few seconds (an event, or an idle wait on a live consumer). A caller that must not
    /// act on stale credentials (an API key, a shared link) refuses while it does not.
    pub fn is_following(&self) -> bool {
        self.read()
            .alive_at
            .is_some_and(|at| at.elapsed() < FOLLOWING_WITHIN)
    }

    /// A saved insight, while it exists.
    pub fn insight(&self, insight_id: Uuid) -> Option<SavedInsight> {
        self.read().access.insight(insight_id)
    }

    /// The shared link of `token` (as its URL carries it), while it and its dashboard live.
    pub fn shared(&self, token: &str) -> Option<SharedLink> {
        self.read().access.shared(&secret_hash(token))
    }

    /// The project a live write key belongs to.
    pub fn project(&self, key: &str) -> Option<Uuid> {
        self.read().projects.get(key).copied()
    }

    /// Whether `project_id` is a project.
    pub fn has_project(&self, project_id: Uuid) -> bool {
        self.read().projects_known.contains_key(&project_id)
    }

    /// The IANA time zone of `project_id`, when it is a project.
    pub fn timezone(&self, project_id: Uuid) -> Option<String> {
        self.read().projects_known.get(&project_id).cloned()
    }

    /// The project that accepts events of the site `domain`.
    pub fn project_for_domain(&self, domain: &str) -> Option<Uuid> {
        self.read()
            .domains
            .get(&domain.trim().to_lowercase())
            .copied()
    }

    /// Whether a script event (Plausible, Umami) from a page on `host` may go to `project_id`:
    /// the host is one of the domains the project's admin listed, or a subdomain of one
    /// (`www.example.com` and `shop.example.com` for `example.com`, not `badexample.com`).
    /// Host names compare without case and without a trailing dot. A project with no domains
    /// takes no script events, so a site must be opted in before its page views count.
    pub fn accepts_host(&self, project_id: Uuid, host: &str) -> bool {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let keys = self.read();
        let Some(domains) = keys.sites.get(&project_id) else {
            return false;
        };
        domains.iter().any(|domain| {
            host.strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        })
    }

    /// Whether `project_id` listed any site domain.
    pub fn has_domains(&self, project_id: Uuid) -> bool {
        self.read()
            .sites
            .get(&project_id)
            .is_some_and(|domains| !domains.is_empty())
    }

    /// The intake quota an admin set for `project_id`; its `None` rates are the defaults.
    pub fn quota(&self, project_id: Uuid) -> ProjectQuota {
        self.read()
            .quotas
            .get(&project_id)
            .copied()
            .unwrap_or_default()
    }

    /// Whether the map has replayed everything that existed when ingest started.
    pub fn is_caught_up(&self) -> bool {
        self.read().caught_up
    }

    /// Readiness check: the replay has caught up, in the shape
    /// [`crate::health::Health::with_check`] takes.
    pub fn readiness_check(
        &self,
    ) -> impl Fn() -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
        let projects = self.clone();
        move || {
            std::future::ready(if projects.is_caught_up() {
                Ok(())
            } else {
                Err("projects and write keys not loaded yet".to_owned())
            })
        }
    }

    /// Starts following the stream in the background.
    pub fn follow(js: jetstream::Context) -> Self {
        let keys = Self::default();
        let this = keys.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = this.consume(&js).await {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "project feed interrupted, resuming"
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        keys
    }

    async fn consume(&self, js: &jetstream::Context) -> anyhow::Result<()> {
        let mut stream = js.get_stream(AUTH_STREAM).await?;
        let end_at_start = stream.info().await?.state.last_sequence;
        let start = self.read().last_sequence + 1;
        let reader = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subjects: vec![PROJECT_SUBJECTS.to_owned(), API_KEY_SUBJECTS.to_owned()],
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..Default::default()
            })
            .await?;
        if self.read().last_sequence >= end_at_start {
            self.write().caught_up = true;
        }
        let mut messages = reader.messages().await?;
        loop {
            // The feed idles between events; an idle feed past the start-time end is caught up.
            let next = tokio::time::timeout(Duration::from_millis(500), messages.next()).await;
            let message = match next {
                Err(_) => {
                    let mut keys = self.write();
                    keys.caught_up = true;
                    keys.alive_at = Some(std::time::Instant::now());
                    continue;
                }
                Ok(None) => return Ok(()),
                Ok(Some(message)) => message?,
            };
            let sequence = message
                .info()
                .map_err(|err| anyhow::anyhow!("{err}"))?
                .stream_sequence;
            let event = serde_json::from_slice::<AuthEvent>(&message.payload);
            let mut keys = self.write();
            match event {
                Ok(event) => {
                    if keys.apply(event) {
                        self.access_changes.send_modify(|changes| *changes += 1);
                    }
                }
                Err(err) => {
                    tracing::error!(sequence, error = %err, "unreadable auth event, skipped")
                }
            }
            keys.last_sequence = sequence;
            keys.alive_at = Some(std::time::Instant::now());
            if sequence >= end_at_start {
                keys.caught_up = true;
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_accepted_when_it_is_a_listed_domain_or_a_subdomain_of_one() {
        let projects = Projects::default();
        let (listed, bare) = (Uuid::now_v7(), Uuid::now_v7());
        projects.write().sites.insert(
            listed,
            vec!["example.com".to_owned(), "shop.test".to_owned()],
        );
        for host in [
            "example.com",
            "www.example.com",
            "a.b.example.com",
            "WWW.Example.com.",
            "shop.test",
        ] {
            assert!(projects.accepts_host(listed, host), "{host}");
        }
        for host in [
            "badexample.com",
            "example.com.evil.test",
            "test",
            "",
            "example.org",
        ] {
            assert!(!projects.accepts_host(listed, host), "{host}");
        }
        assert!(projects.has_domains(listed));
        assert!(!projects.has_domains(bare));
        assert!(!projects.accepts_host(bare, "example.com"));
    }
}
