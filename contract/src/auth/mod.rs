//! Auth on the wire: the events on the `AUTH` stream, and the request and response bodies of
//! `/api/auth/*`.

mod account;
mod admin;
mod annotations;
mod events;
mod invites;
mod members;
mod role;
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
pub use events::{AuthEvent, SessionRevokedReason};
pub use invites::{
    AcceptInviteRequest, AcceptedInvite, CreateInviteRequest, CreatedInvite, INVITE_DAYS,
    InviteList, InviteView, MAX_INVITE_DAYS, invite_subject,
};
pub use members::{MemberView, ProjectMembers, ProjectRole, SetMemberRequest, member_subject};
pub use role::Role;
pub use subjects::{
    ADMINS_SUBJECT, PROJECT_SUBJECTS, email_subject, login_subject, normalise_email,
    project_subject, session_subject, user_subject,
};
pub use tokens::{Claims, Jwk, Jwks};
