//! The live feed: a project's events as they are ingested, fed by a NATS subscription on
//! `events.<project_id>.>` (no polling of ClickHouse for the feed), and every few seconds the
//! number of users active in the last five minutes. The feed lasts as long as the caller's
//! token: it ends at the token's `exp`, or as soon as auth announces that the caller was
//! disabled or erased, or may no longer read the project (removed from its members, or no
//! longer an instance admin without being one), with an `end` message saying why; the caller
//! opens it again with a fresh token. Bots' events and bots among the active users are left
//! out unless the feed was opened with `include_bots`.

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use contract::auth::AuthEvent;
use contract::query::{ActiveUsers, LiveEnd, LiveEndReason};
use futures_util::StreamExt as _;
use plumbing::projects::Projects;
use uuid::Uuid;

use crate::access::{Who, may_read};
use crate::error::Error;
use crate::persons::sql::{PERSON, join};
use crate::store::Store;

/// How often the active-user count is sent.
const ACTIVE_USERS_EVERY: Duration = Duration::from_secs(5);

/// Users (persons) with an event in the last five minutes; `{persons}` is the persons' join.
const ACTIVE_USERS: &str = "SELECT toUInt64(uniqExact({person})) FROM events{persons} \
     WHERE project_id = toUUID(?) AND timestamp >= now() - 300";

/// The part of a published envelope the feed looks at before passing it on.
#[derive(Debug, Default, serde::Deserialize)]
struct Flags {
    #[serde(default)]
    context: FlagsContext,
}

#[derive(Debug, Default, serde::Deserialize)]
struct FlagsContext {
    #[serde(default)]
    is_bot: bool,
}

/// Whether a published envelope is a bot's (one that does not read as an envelope is shown).
fn is_bot(payload: &[u8]) -> bool {
    serde_json::from_slice::<Flags>(payload).is_ok_and(|flags| flags.context.is_bot)
}

/// One message of the feed: its SSE event name and its data.
#[derive(Debug)]
pub(crate) struct Message {
    /// `event`, `active_users` or `end`.
    pub(crate) name: &'static str,
    /// The stored envelope as published, or the JSON of `ActiveUsers` or `LiveEnd`.
    pub(crate) data: String,
}

/// The runtime's instant of the Unix time `exp` (seconds); now when it has passed (a token
/// within the verifier's leeway opens a feed that ends at once).
fn instant_of(exp: i64) -> tokio::time::Instant {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let exp = Duration::from_secs(u64::try_from(exp).unwrap_or(0));
    tokio::time::Instant::now() + exp.saturating_sub(now)
}

/// An open feed; [`Feed::next`] waits for its next message.
pub(crate) struct Feed {
    subscription: async_nats::Subscriber,
    /// The caller's auth events (`auth.user.<id>`).
    account: async_nats::Subscriber,
    /// The caller, and the members the service follows: a removal ends the feed.
    caller: Who,
    projects: Projects,
    access_changes: tokio::sync::watch::Receiver<u64>,
    /// The caller's token expires.
    expiry: Pin<Box<tokio::time::Sleep>>,
    /// The `end` message was sent: the stream is over.
    ended: bool,
    ticker: tokio::time::Interval,
    clickhouse: clickhouse::Client,
    project: Uuid,
    /// Bots' events and bots among the active users are shown too.
    include_bots: bool,
}

impl Feed {
    /// Subscribes to the project's events and to the caller's own auth events.
    pub(crate) async fn open(
        nats: &async_nats::Client,
        store: &Store,
        projects: &Projects,
        project: Uuid,
        caller: &Who,
        include_bots: bool,
    ) -> Result<Self, Error> {
        let subject = contract::streams::event_subject(&project.to_string(), "*");
        let subscription = nats
            .subscribe(subject)
            .await
            .map_err(|err| Error::Unavailable(err.to_string()))?;
        // Auth publishes the caller's own changes on this subject (a core subscription sees
        // what JetStream stores): one more subscription per feed, no lookup per message.
        let account = nats
            .subscribe(contract::auth::user_subject(caller.user))
            .await
            .map_err(|err| Error::Unavailable(err.to_string()))?;
        // Watching the members from here on: a removal between the caller's check and now
        // would otherwise go unseen.
        let access_changes = projects.access_changes();
        if !may_read(projects, caller, project) {
            return Err(Error::NotFound("no such project".to_owned()));
        }
        let mut ticker = tokio::time::interval(ACTIVE_USERS_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ok(Self {
            subscription,
            account,
            caller: caller.clone(),
            projects: projects.clone(),
            access_changes,
            expiry: Box::pin(tokio::time::sleep_until(instant_of(caller.expires))),
            ended: false,
            ticker,
            clickhouse: store.client().clone(),
            project,
            include_bots,
        })
    }

    /// The next SSE message: an `event` (the stored envelope, as published), an
    /// `active_users` count, or the last one, `end`. `None` after `end`, or once a
    /// subscription ends.
    pub(crate) async fn next(&mut self) -> Option<Message> {
        loop {
            if self.ended {
                return None;
            }
            // Checked first, so no event goes out after the token's `exp`, however busy the
            // project; the branches below are polled in random order, so counts still pass.
            if self.expiry.is_elapsed() {
                return Some(self.end(LiveEndReason::TokenExpired));
            }
            tokio::select! {
                () = &mut self.expiry => return Some(self.end(LiveEndReason::TokenExpired)),
                change = self.account.next() => {
                    if self.ends_access(&change?.payload) {
                        return Some(self.end(LiveEndReason::AccessRevoked));
                    }
                }
                Ok(()) = self.access_changes.changed() => {
                    if !may_read(&self.projects, &self.caller, self.project) {
                        return Some(self.end(LiveEndReason::AccessRevoked));
                    }
                }
                message = self.subscription.next() => {
                    let message = message?;
                    if !self.include_bots && is_bot(&message.payload) {
                        continue;
                    }
                    return Some(Message { name: "event", data: String::from_utf8_lossy(&message.payload).into_owned() });
                }
                _ = self.ticker.tick() => return Some(self.active_users().await),
            }
        }
    }

    /// Whether an auth event on the caller's subject withdraws their access to the feed:
    /// disabled or erased, or a new global role (kept for later checks) with which they may not
    /// read the project.
    fn ends_access(&mut self, payload: &[u8]) -> bool {
        match serde_json::from_slice::<AuthEvent>(payload) {
            Ok(AuthEvent::UserDisabled { .. } | AuthEvent::UserErased { .. }) => true,
            Ok(AuthEvent::RoleChanged { role, .. }) => {
                self.caller.role = role;
                !may_read(&self.projects, &self.caller, self.project)
            }
            _ => false,
        }
    }

    async fn active_users(&self) -> Message {
        let persons = join(self.project, None);
        let counted = ACTIVE_USERS
            .replace("{person}", PERSON)
            .replace("{persons}", &persons.sql);
        let text = if self.include_bots {
            counted
        } else {
            format!("{counted} AND is_bot = 0")
        };
        let count = persons
            .bind(self.clickhouse.query(&text))
            .bind(self.project.to_string())
            .fetch_one::<u64>()
            .await
            .ok();
        // Serialising an optional number cannot fail.
        let data = serde_json::to_string(&ActiveUsers { count }).unwrap_or_default();
        Message {
            name: "active_users",
            data,
        }
    }

    /// The `end` message; the stream closes after it.
    fn end(&mut self, reason: LiveEndReason) -> Message {
        self.ended = true;
        // Serialising a one-field struct of a unit enum cannot fail.
        let data = serde_json::to_string(&LiveEnd { reason }).unwrap_or_default();
        Message { name: "end", data }
    }
}
