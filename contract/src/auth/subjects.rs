//! The subjects of the `AUTH` stream, and the email key that names an account's subject.

use uuid::Uuid;

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
/// [`AuthEvent::LastAdminChecked`](crate::auth::AuthEvent::LastAdminChecked)).
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
