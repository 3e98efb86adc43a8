//! Password-reset links an instance admin hands to a user who cannot sign in (there is no email
//! sending). Each is a subject of its own on the stream (`auth.reset.<id>`): issued with a
//! random token kept only as its hash, lasting `RESET_LINK_HOURS`, and used once: its use
//! expects the sequence of its issue, so two uses of one link cannot both succeed. The new
//! password is the user's own `PasswordChanged`, which ends every session they had.

use contract::auth::{
    AuthEvent, PasswordResetLink, RESET_LINK_HOURS, ResetPasswordRequest, reset_subject,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{passwords, tokens, users};

/// How many times the new password is written again when the account changed in between.
const PASSWORD_TRIES: usize = 3;

/// A new link with which `user_id` sets a password, issued by the instance admin `by`: the
/// token is in this answer only. 404 for no such user, 409 for a disabled one.
pub(crate) async fn issue(
    state: &AppState,
    by: Uuid,
    user_id: Uuid,
) -> Result<PasswordResetLink, ApiError> {
    let disabled: Option<bool> = sqlx::query_scalar("SELECT disabled FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&state.pool)
        .await?;
    match disabled {
        None => return Err(ApiError::NotFound),
        Some(true) => {
            return Err(ApiError::Conflict(
                "the account is disabled: enable it first".to_owned(),
            ));
        }
        Some(false) => {}
    }
    let (token, token_hash) = tokens::new_refresh_token().map_err(ApiError::unavailable)?;
    let reset_id = Uuid::now_v7();
    let at = OffsetDateTime::now_utc();
    let expires_at = at + Duration::hours(RESET_LINK_HOURS);
    state
        .record(
            reset_subject(reset_id),
            &AuthEvent::PasswordResetIssued {
                reset_id,
                user_id,
                token_hash,
                expires_at,
                by,
                at,
            },
            &reset_id.to_string(),
            Some(0),
        )
        .await?;
    Ok(PasswordResetLink {
        link: format!("/reset/{token}"),
        token,
        expires_at,
    })
}

/// Sets the password of the user whose live link holds `request.token`, and spends the link.
pub(crate) async fn reset(state: &AppState, request: ResetPasswordRequest) -> Result<(), ApiError> {
    let gone = || ApiError::NotFoundBecause("this reset link is no longer valid".to_owned());
    users::check_password_length(&request.password)?;
    let row: Option<(Uuid, Uuid, i64, bool)> = sqlx::query_as(
        "SELECT r.id, r.user_id, r.version, u.disabled
         FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()",
    )
    .bind(tokens::secret_hash(request.token.trim()))
    .fetch_optional(&state.pool)
    .await?;
    let (reset_id, user_id, version, disabled) = row.ok_or_else(gone)?;
    if disabled {
        return Err(ApiError::Disabled);
    }
    // Hashed before the link is spent, so a failure here leaves it for another try.
    let password_hash = passwords::hash(request.password).await?;
    state
        .record(
            reset_subject(reset_id),
            &AuthEvent::PasswordResetUsed {
                reset_id,
                user_id,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(u64::try_from(version).unwrap_or(0)),
        )
        .await
        .map_err(|err| match err {
            ApiError::Conflict(_) => gone(),
            other => other,
        })?;
    // The link is spent: the password is written even when the account changed since it was
    // read (a role changed meanwhile), based on its version read again.
    let mut tries = 0;
    loop {
        tries += 1;
        let version: Option<i64> = sqlx::query_scalar("SELECT version FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&state.pool)
            .await?;
        let version = version.ok_or_else(gone)?;
        let written = users::record_password(
            state,
            user_id,
            password_hash.clone(),
            u64::try_from(version).unwrap_or(0),
        )
        .await;
        match written {
            Err(ApiError::Conflict(_)) if tries < PASSWORD_TRIES => {}
            other => return other,
        }
    }
}
