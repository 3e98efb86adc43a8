//! Auth on the wire: the events on the `AUTH` stream, and the request and response bodies of
//! `/api/auth/*`.

mod account;
mod admin;
mod annotations;
mod api_keys;
mod events;
mod history;
mod insights;
mod invites;
mod members;
mod role;
mod shares;
mod subjects;
mod tokens;

pub use account::{
    ChangePasswordRequest, LoginRequest, RefreshRequest, RegisterRequest, TokenResponse, UserView,
};
pub use admin::{
    AdminUserView, CreateProjectRequest, CreatedProject, ProjectDomains, ProjectList, ProjectQuota,
    ProjectQuotaView, ProjectSummaries, ProjectSummary, ProjectView, SetDomainsRequest,
    UpdateUserRequest, UserPage, WriteKeyView,
};
pub use annotations::{
    AnnotationList, AnnotationRequest, AnnotationView, MAX_ANNOTATION_CHARS, annotation_subject,
};
pub use api_keys::{
    API_KEY_PREFIX, API_KEY_SHOWN_CHARS, API_KEY_SUBJECTS, ApiKeyList, ApiKeyView,
    CreateApiKeyRequest, CreatedApiKey, MAX_API_KEY_NAME_CHARS, api_key_subject,
    api_key_usage_subject,
};
pub use events::{AuthEvent, SessionRevokedReason};
pub use history::{
    AuditEntry, AuditPage, MAX_RETENTION_MONTHS, PasswordResetLink, ProjectRetention,
    RESET_LINK_HOURS, RETENTION_BUCKET, ResetPasswordRequest, reset_subject,
};
pub use insights::{
    DashboardList, DashboardRequest, DashboardView, InsightKind, InsightList, InsightQuery,
    InsightRequest, InsightView, MAX_INSIGHT_TEXT_BYTES, MAX_NAME_CHARS, MAX_TILES, RANGE_PRESETS,
    dashboard_subject, insight_subject, preset_days_back,
};
pub use invites::{
    AcceptInviteRequest, AcceptedInvite, CreateInviteRequest, CreatedInvite, INVITE_DAYS,
    InviteList, InviteView, MAX_INVITE_DAYS, invite_subject,
};
pub use members::{MemberView, ProjectMembers, ProjectRole, SetMemberRequest, member_subject};
pub use role::Role;
pub use shares::{
    CreateShareRequest, CreatedShare, MAX_EMBED_ORIGINS, SHARE_PASSWORD_HEADER, ShareList,
    ShareView, SharedDashboard, SharedTile, share_subject,
};
pub use subjects::{
    ADMINS_SUBJECT, PROJECT_SUBJECTS, email_subject, login_subject, normalise_email,
    project_subject, session_subject, user_subject,
};
pub use tokens::{Claims, Jwk, Jwks};
