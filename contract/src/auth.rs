//! Auth on the wire: the events on the `AUTH` stream, and the request and response bodies of
//! `/api/auth/*`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What a user may do: `user` uses the dashboard, `analyst` reads aggregates, `admin` everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Analyst,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes everything `required` may do.
    pub fn includes(self, required: Role) -> bool {
        self.rank() >= required.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Role::User => 0,
            Role::Analyst => 1,
            Role::Admin => 2,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

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
    /// On `auth.project.<id>`: a write key, public like PostHog's project token.
    WriteKeyIssued {
        project_id: Uuid,
        key_id: Uuid,
        key: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// On `auth.project.<id>`.
    WriteKeyRevoked {
        project_id: Uuid,
        key_id: Uuid,
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

/// `auth.user.<id>`.
pub fn user_subject(user_id: Uuid) -> String {
    format!("auth.user.{user_id}")
}

/// `auth.email.<sha256 of the normalised email>`.
pub fn email_subject(email_hash: &str) -> String {
    format!("auth.email.{email_hash}")
}

/// `auth.login.<user_id>`.
pub fn login_subject(user_id: Uuid) -> String {
    format!("auth.login.{user_id}")
}

/// `auth.session.<family_id>`.
pub fn session_subject(family_id: Uuid) -> String {
    format!("auth.session.{family_id}")
}

/// The one subject every removal of an active admin is checked on (see
/// [`AuthEvent::LastAdminChecked`]).
pub const ADMINS_SUBJECT: &str = "auth.admins";

/// `auth.project.<id>`.
pub fn project_subject(project_id: Uuid) -> String {
    format!("auth.project.{project_id}")
}

/// Filter matching every project event.
pub const PROJECT_SUBJECTS: &str = "auth.project.>";

/// The key under which an email is one account: trimmed, Unicode NFKC, lower case
/// (`" Ａlice@Example.COM "` and `"alice@example.com"` are the same account). Auth keys
/// accounts by it, and edge counts login attempts per account by it.
pub fn normalise_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    email.trim().nfkc().collect::<String>().to_lowercase()
}

/// `POST /api/auth/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /api/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// `POST /api/auth/refresh` and `/logout` for clients without the cookie.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /api/auth/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// Answer of login and refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Also set as an httpOnly cookie; in the body for clients without cookies.
    pub refresh_token: String,
    pub user: UserView,
}

/// A user as the admin panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
}

/// `GET /api/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub users: Vec<AdminUserView>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

/// `PATCH /api/admin/users/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `POST /api/admin/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateProjectRequest {
    pub name: String,
    #[serde(default)]
    pub timezone: Option<String>,
}

/// Answer of `POST /api/admin/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedProject {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub write_key: String,
}

/// A write key of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WriteKeyView {
    pub id: Uuid,
    pub key: String,
}

/// A project as `GET /api/admin/projects` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectView {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Keys not revoked.
    pub keys: Vec<WriteKeyView>,
    /// Site domains accepted from Plausible's script.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The project's own intake quota (ingest's defaults where it sets none).
    #[serde(default)]
    pub quota: ProjectQuota,
}

/// A project's own intake quota, per second across all ingest replicas: the body of
/// `PUT /api/admin/projects/{id}/quota`. A `null` (or missing) rate is ingest's default
/// (`PROJECT_EVENTS_PER_SECOND`, `PROJECT_BYTES_PER_SECOND`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectQuota {
    /// Events a second; at least 1.
    #[serde(default)]
    pub events_per_second: Option<u64>,
    /// Bytes of stored events a second; at least 1.
    #[serde(default)]
    pub bytes_per_second: Option<u64>,
}

/// Answer of `PUT /api/admin/projects/{id}/quota`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectQuotaView {
    pub id: Uuid,
    #[serde(flatten)]
    pub quota: ProjectQuota,
}

/// `PUT /api/admin/projects/{id}/domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetDomainsRequest {
    pub domains: Vec<String>,
}

/// Answer of `GET /api/admin/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectList {
    pub projects: Vec<ProjectView>,
}

/// A project as analysts see it in `GET /api/auth/projects`: what the analytics page needs to
/// pick one, without its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectSummary {
    pub id: Uuid,
    pub name: String,
    /// IANA time zone its days are counted in.
    pub timezone: String,
}

/// `GET /api/auth/projects` (analysts and admins): every project, the built-in one first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectSummaries {
    pub projects: Vec<ProjectSummary>,
}

/// Answer of `PUT /api/admin/projects/{id}/domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectDomains {
    pub id: Uuid,
    pub domains: Vec<String>,
}

/// `GET /.well-known/jwks.json`: the public keys access tokens are verified with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// Always `EdDSA`.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
}

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: Uuid,
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

    #[test]
    fn admin_includes_analyst_includes_user() {
        assert!(Role::Admin.includes(Role::Analyst));
        assert!(Role::Analyst.includes(Role::User));
        assert!(!Role::User.includes(Role::Analyst));
    }
}
