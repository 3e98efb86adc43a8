//! Accounts: registration (the email claimed on the stream first), looking a user up, the
//! password change (which a reset link's use shares), and the checks on what a user may type.

use contract::auth::{AuthEvent, Role, UserView};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::PublishError;
use crate::{email, passwords};

/// A user row as login, refresh and `me` need it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: Uuid,
    email: String,
    name: String,
    pub(crate) password_hash: String,
    role: String,
    pub(crate) disabled: bool,
}

impl UserRow {
    pub(crate) fn view(&self) -> Result<UserView, ApiError> {
        Ok(UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: parse_role(&self.role)?,
        })
    }
}

const USER_BY_ID: &str =
    "SELECT id, email, name, password_hash, role, disabled FROM users WHERE id = $1";
const USER_BY_EMAIL_HASH: &str =
    "SELECT id, email, name, password_hash, role, disabled FROM users WHERE email_hash = $1";

/// The user with this id, if the projection has one.
pub(crate) async fn by_id(state: &AppState, id: Uuid) -> Result<Option<UserRow>, ApiError> {
    Ok(sqlx::query_as(USER_BY_ID)
        .bind(id)
        .fetch_optional(&state.pool)
        .await?)
}

/// The user whose normalised email hashes to `email_hash`.
pub(crate) async fn by_email_hash(
    state: &AppState,
    email_hash: &str,
) -> Result<Option<UserRow>, ApiError> {
    Ok(sqlx::query_as(USER_BY_EMAIL_HASH)
        .bind(email_hash)
        .fetch_optional(&state.pool)
        .await?)
}

/// The caller's id when their role includes `required`. The role is read from the projection,
/// not only from the token, so a demoted or disabled user loses access at once rather than when
/// the token expires.
pub(crate) async fn with_role(
    state: &AppState,
    user_id: Uuid,
    required: Role,
) -> Result<Uuid, ApiError> {
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT role, disabled FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&state.pool)
            .await?;
    match row {
        Some((role, false)) if parse_role(&role)?.includes(required) => Ok(user_id),
        Some((_, true)) => Err(ApiError::Disabled),
        Some(_) => Err(ApiError::Forbidden(format!(
            "this needs the {} role",
            required.as_str()
        ))),
        None => Err(ApiError::Unauthorized),
    }
}

/// Validates, claims the email on the stream (only the first claim wins), publishes the user and
/// answers once the projection holds it.
pub(crate) async fn register(
    state: &AppState,
    email: &str,
    password: String,
    name: &str,
    role: Role,
) -> Result<UserView, ApiError> {
    if !email::is_plausible(email) {
        return Err(ApiError::BadRequest(
            "email is not a valid address".to_owned(),
        ));
    }
    check_password_length(&password)?;
    let name = name.trim().to_owned();
    if name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "name must be at most 100 characters".to_owned(),
        ));
    }
    plain_text("name", &name)?;
    // Refuse before publishing anything when the projection cannot take the change: a command
    // answers 503 rather than leave an event it cannot confirm.
    sqlx::query("SELECT 1").execute(&state.pool).await?;
    let email = email::normalise(email);
    let email_hash = email::hash(&email);
    let user_id = Uuid::now_v7();
    let at = OffsetDateTime::now_utc();

    state
        .publisher
        .publish(
            contract::auth::email_subject(&email_hash),
            &AuthEvent::EmailClaimed { user_id, at },
            &format!("claim-{user_id}"),
            Some(0),
        )
        .await
        .map_err(|err| match err {
            PublishError::Conflict => {
                ApiError::Conflict("this email is already registered".to_owned())
            }
            other => other.into(),
        })?;

    let password_hash = passwords::hash(password).await?;
    state
        .record(
            contract::auth::user_subject(user_id),
            &AuthEvent::UserRegistered {
                user_id,
                email: email.clone(),
                email_hash,
                name: name.clone(),
                password_hash,
                role,
                at,
            },
            &format!("registered-{user_id}"),
            Some(0),
        )
        .await?;
    Ok(UserView {
        id: user_id,
        email,
        name,
        role,
    })
}

/// Replaces the password of `user_id` after checking the current one.
pub(crate) async fn change_password(
    state: &AppState,
    user_id: Uuid,
    current_password: String,
    new_password: String,
) -> Result<(), ApiError> {
    check_password_length(&new_password)?;
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT password_hash, version FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&state.pool)
            .await?;
    let (current_hash, version) = row.ok_or(ApiError::Unauthorized)?;
    if !passwords::verify(current_password, current_hash).await? {
        return Err(ApiError::InvalidCredentials);
    }
    let password_hash = passwords::hash(new_password).await?;
    record_password(
        state,
        user_id,
        password_hash,
        u64::try_from(version).unwrap_or(0),
    )
    .await
}

/// Records `password_hash` (argon2id) as the password of `user_id`, expecting the user's
/// `version`; the projector ends every session of the user with it.
pub(crate) async fn record_password(
    state: &AppState,
    user_id: Uuid,
    password_hash: String,
    version: u64,
) -> Result<(), ApiError> {
    state
        .record(
            contract::auth::user_subject(user_id),
            &AuthEvent::PasswordChanged {
                user_id,
                password_hash,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await
}

/// Refuses a new password of a length outside [`passwords::LENGTH`].
pub(crate) fn check_password_length(password: &str) -> Result<(), ApiError> {
    if passwords::LENGTH.contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "password must be {} to {} characters",
            passwords::LENGTH.start(),
            passwords::LENGTH.end()
        )))
    }
}

/// Refuses control characters (NUL above all, which PostgreSQL text cannot hold: an event
/// carrying one would stop the projection).
pub(crate) fn plain_text(field: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// A role as the projection stores it; anything else there is a bug, not bad input.
pub(crate) fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse()
        .map_err(|err: String| ApiError::Internal(anyhow::anyhow!(err)))
}
