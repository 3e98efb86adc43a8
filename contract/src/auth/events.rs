//! The events on the `AUTH` stream: every change to users, sessions and projects.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::role::Role;

/// Every change to users and sessions, as stored on the `AUTH` stream (JSON, tagged by `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthEvent {
    /// The first message on `auth.email.<hash>`: this user id owns the email.
    EmailClaimed {
        user_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.user.<id>`.
    UserRegistered {
        user_id: Uuid,
        email: String,
        email_hash: String,
        name: String,
        /// argon2id PHC string.
        password_hash: String,
        role: Role,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Audit, on `auth.login.<user_id>`.
    LoginSucceeded {
        user_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Audit, on `auth.login.<user_id>`: a wrong password for an existing account.
    LoginFailed {
        user_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.session.<family_id>`: a login opened a refresh-token family.
    SessionStarted {
        family_id: Uuid,
        user_id: Uuid,
        /// SHA-256 (hex) of the refresh token; the token itself is never stored.
        token_hash: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.session.<family_id>`: a refresh replaced the family's token.
    SessionRefreshed {
        family_id: Uuid,
        previous_hash: String,
        token_hash: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.session.<family_id>`: logout, or reuse of a rotated token.
    SessionRevoked {
        family_id: Uuid,
        reason: SessionRevokedReason,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.user.<id>`: the user changed their password; every session ends.
    PasswordChanged {
        user_id: Uuid,
        /// argon2id PHC string.
        password_hash: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.user.<id>`: an admin changed the user's role (or the first-admin bootstrap).
    RoleChanged {
        user_id: Uuid,
        role: Role,
        /// The admin who did it; `None` for the start-up bootstrap.
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.user.<id>`.
    UserDisabled {
        user_id: Uuid,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.user.<id>`.
    UserEnabled {
        user_id: Uuid,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.user.<id>`: the tombstone written after the messages that carried the user's
    /// personal data were erased from the stream.
    UserErased {
        user_id: Uuid,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.admins`, the subject every change that removes an active admin publishes to
    /// first, expecting the last sequence it read there: the last-admin rule passed for removing
    /// `user_id`, and `remaining` are the active admins it counted besides. Of two removals
    /// racing, only one is stored; the other reads this and counts again. It changes no state.
    LastAdminChecked {
        user_id: Uuid,
        remaining: Vec<Uuid>,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<id>`.
    ProjectCreated {
        project_id: Uuid,
        name: String,
        timezone: String,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<id>`: the site domains whose Plausible events belong to the project.
    ProjectDomainsSet {
        project_id: Uuid,
        domains: Vec<String>,
        /// Who did it (an event written before this field existed has none).
        #[serde(default)]
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<id>`: the project's own intake quota, set by an admin; a `None` rate
    /// is ingest's default.
    ProjectQuotaSet {
        project_id: Uuid,
        events_per_second: Option<u64>,
        bytes_per_second: Option<u64>,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<id>`: how many months of the project's events are kept (`None`: the
    /// instance's retention).
    ProjectRetentionSet {
        project_id: Uuid,
        months: Option<u16>,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.reset.<reset_id>`: an instance admin issued a single-use link with which
    /// `user_id` sets a new password; the token is kept as its SHA-256 (hex).
    PasswordResetIssued {
        reset_id: Uuid,
        user_id: Uuid,
        token_hash: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.reset.<reset_id>`: the link used (a `PasswordChanged` on the user follows).
    PasswordResetUsed {
        reset_id: Uuid,
        user_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<id>`: a write key, public like PostHog's project token.
    WriteKeyIssued {
        project_id: Uuid,
        key_id: Uuid,
        key: String,
        /// Who did it (an event written before this field existed has none).
        #[serde(default)]
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<id>`.
    WriteKeyRevoked {
        project_id: Uuid,
        key_id: Uuid,
        /// Who did it (an event written before this field existed has none).
        #[serde(default)]
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.member.<user_id>`: the user is a member of the project
    /// with `role` (added, or their role changed).
    MemberSet {
        project_id: Uuid,
        user_id: Uuid,
        role: super::members::ProjectRole,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.annotation.<annotation_id>`: a note written (or
    /// rewritten) about the moment `marked`.
    AnnotationSet {
        project_id: Uuid,
        annotation_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        marked: OffsetDateTime,
        content: String,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.annotation.<annotation_id>`: the note deleted.
    AnnotationDeleted {
        project_id: Uuid,
        annotation_id: Uuid,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.invite.<invite_id>`: `email` invited with `role`; the
    /// link's token is kept as its SHA-256 (hex).
    InviteCreated {
        project_id: Uuid,
        invite_id: Uuid,
        email: String,
        role: super::members::ProjectRole,
        token_hash: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.invite.<invite_id>`: the invite used by `user_id` (who
    /// became a member by a `MemberSet` just before it).
    InviteAccepted {
        project_id: Uuid,
        invite_id: Uuid,
        user_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.invite.<invite_id>`: the invite withdrawn.
    InviteRevoked {
        project_id: Uuid,
        invite_id: Uuid,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.member.<user_id>`: the user is no longer a member.
    MemberRemoved {
        project_id: Uuid,
        user_id: Uuid,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.apikey.<key_id>`: `user_id` created a read-only key for the query API; the key
    /// is kept as its SHA-256 (hex), with its first characters to show.
    ApiKeyCreated {
        key_id: Uuid,
        user_id: Uuid,
        name: String,
        prefix: String,
        key_hash: String,
        /// Only these projects; `None`: every project of its owner.
        project_ids: Option<Vec<Uuid>>,
        #[serde(with = "time::serde::rfc3339::option")]
        expires_at: Option<OffsetDateTime>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.apikey.<key_id>`: the key stops working (its owner revoked it, or their account
    /// was disabled or erased: `by` says who did it).
    ApiKeyRevoked {
        key_id: Uuid,
        user_id: Uuid,
        by: Option<Uuid>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.insight.<insight_id>`: an insight saved (or saved again).
    InsightSaved {
        project_id: Uuid,
        insight_id: Uuid,
        name: String,
        kind: super::insights::InsightKind,
        view: String,
        query: super::insights::InsightQuery,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.insight.<insight_id>`.
    InsightDeleted {
        project_id: Uuid,
        insight_id: Uuid,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.dashboard.<dashboard_id>`: a dashboard saved (or renamed,
    /// or its tiles changed); `insight_ids` in order.
    DashboardSaved {
        project_id: Uuid,
        dashboard_id: Uuid,
        name: String,
        insight_ids: Vec<Uuid>,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.dashboard.<dashboard_id>`: deleted, with its shared links.
    DashboardDeleted {
        project_id: Uuid,
        dashboard_id: Uuid,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.share.<share_id>`: a dashboard shared by a link whose
    /// token is kept as its SHA-256 (hex), optionally behind a password (argon2id PHC string).
    ShareCreated {
        project_id: Uuid,
        share_id: Uuid,
        dashboard_id: Uuid,
        prefix: String,
        token_hash: String,
        password_hash: Option<String>,
        embed_origins: Vec<String>,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<project_id>.share.<share_id>`: the link stops working.
    ShareRevoked {
        project_id: Uuid,
        share_id: Uuid,
        by: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

/// Why a refresh-token family ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionRevokedReason {
    Logout,
    /// A token that had already been rotated was presented again: it may be stolen.
    TokenReuse,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_readable_json_tagged_by_type() {
        let event = AuthEvent::EmailClaimed {
            user_id: Uuid::nil(),
            at: OffsetDateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_string(&event).expect("serializes");
        assert_eq!(
            json,
            r#"{"type":"email_claimed","user_id":"00000000-0000-0000-0000-000000000000","at":"1970-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            serde_json::from_str::<AuthEvent>(&json).expect("parses"),
            event
        );
    }
}
