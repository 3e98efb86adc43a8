//! Sessions: login (with the failed-login limits), refresh-token rotation with reuse
//! detection, and logout. A session is a family of refresh tokens; each refresh rotates the
//! token, and a rotated token presented again ends the family.

use std::net::IpAddr;

use contract::auth::{AuthEvent, SessionRevokedReason, UserView};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::PublishError;
use crate::users::{self, UserRow};
use crate::{email, passwords, tokens};

/// A session begun or continued: who, and the refresh token the client keeps.
#[derive(Debug)]
pub(crate) struct Granted {
    pub(crate) user: UserView,
    pub(crate) refresh_token: String,
}

/// Checks the credentials under the failed-login limits and starts a session.
pub(crate) async fn login(
    state: &AppState,
    email: &str,
    password: String,
    ip: IpAddr,
) -> Result<Granted, ApiError> {
    let email_hash = email::hash(email);
    let failures = state.failures().await?;
    if let Some(wait) = failures
        .locked(&email_hash, ip)
        .await
        .map_err(unavailable)?
    {
        state.count_login("locked");
        return Err(ApiError::TooManyRequests(wait));
    }
    let Some(user) = check_credentials(state, &email_hash, password).await? else {
        failures
            .record_failure(&email_hash, ip)
            .await
            .map_err(unavailable)?;
        state.count_login("failure");
        return Err(ApiError::InvalidCredentials);
    };
    if user.disabled {
        state.count_login("failure");
        return Err(ApiError::Disabled);
    }
    let refresh_token = start(state, user.id).await?;
    failures.clear(&email_hash, ip).await.map_err(unavailable)?;
    state.count_login("success");
    Ok(Granted {
        user: user.view()?,
        refresh_token,
    })
}

fn unavailable(err: anyhow::Error) -> ApiError {
    ApiError::Unavailable(format!("{err:#}"))
}

/// The user when `password` is theirs. An unknown email costs the same time as a wrong
/// password; a wrong password is recorded on the user's stream.
async fn check_credentials(
    state: &AppState,
    email_hash: &str,
    password: String,
) -> Result<Option<UserRow>, ApiError> {
    let Some(user) = users::by_email_hash(state, email_hash).await? else {
        passwords::verify_dummy(password).await?;
        return Ok(None);
    };
    if passwords::verify(password, user.password_hash.clone()).await? {
        return Ok(Some(user));
    }
    state
        .publisher
        .publish(
            contract::auth::login_subject(user.id),
            &AuthEvent::LoginFailed {
                user_id: user.id,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            None,
        )
        .await?;
    Ok(None)
}

/// Records the login and a new session family; returns its first refresh token.
async fn start(state: &AppState, user_id: Uuid) -> Result<String, ApiError> {
    let at = OffsetDateTime::now_utc();
    state
        .publisher
        .publish(
            contract::auth::login_subject(user_id),
            &AuthEvent::LoginSucceeded { user_id, at },
            &Uuid::now_v7().to_string(),
            None,
        )
        .await?;
    let family_id = Uuid::now_v7();
    let (refresh_token, token_hash) = tokens::new_refresh_token()?;
    state
        .record(
            contract::auth::session_subject(family_id),
            &AuthEvent::SessionStarted {
                family_id,
                user_id,
                token_hash,
                expires_at: refresh_expiry(state, at),
                at,
            },
            &format!("session-{family_id}"),
            Some(0),
        )
        .await?;
    Ok(refresh_token)
}

/// A session found by the hash of the refresh token presented.
#[derive(Debug, sqlx::FromRow)]
struct SessionRow {
    family_id: Uuid,
    user_id: Uuid,
    expires_at: OffsetDateTime,
    revoked: bool,
    rotated: bool,
    version: i64,
}

async fn find(state: &AppState, token: &str) -> Result<Option<SessionRow>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT s.family_id, s.user_id, s.expires_at, s.revoked_at IS NOT NULL AS revoked,
                t.rotated_at IS NOT NULL AS rotated, s.version
         FROM session_tokens t JOIN sessions s ON s.family_id = t.family_id
         WHERE t.token_hash = $1",
    )
    .bind(tokens::secret_hash(token))
    .fetch_optional(&state.pool)
    .await?)
}

/// Rotates the refresh token `token`: a new one for the same session. A token already rotated
/// ends the session (whoever holds it may have stolen it).
pub(crate) async fn refresh(state: &AppState, token: &str) -> Result<Granted, ApiError> {
    let session = find(state, token).await?.ok_or(ApiError::Unauthorized)?;
    let at = OffsetDateTime::now_utc();
    if session.revoked || session.expires_at <= at {
        return Err(ApiError::Unauthorized);
    }
    if session.rotated {
        // A rotated token came back: whoever holds the family may have stolen it. End it.
        revoke(state, &session, SessionRevokedReason::TokenReuse).await?;
        return Err(ApiError::Unauthorized);
    }
    let user = users::by_id(state, session.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if user.disabled {
        return Err(ApiError::Disabled);
    }
    let (refresh_token, token_hash) = tokens::new_refresh_token()?;
    let published = state
        .publisher
        .publish(
            contract::auth::session_subject(session.family_id),
            &AuthEvent::SessionRefreshed {
                family_id: session.family_id,
                previous_hash: tokens::secret_hash(token),
                token_hash,
                expires_at: refresh_expiry(state, at),
                at,
            },
            &Uuid::now_v7().to_string(),
            Some(u64::try_from(session.version).unwrap_or(0)),
        )
        .await;
    let sequence = match published {
        Ok(sequence) => sequence,
        // Someone refreshed with this very token a moment ago: this use is a reuse.
        Err(PublishError::Conflict) => return Err(ApiError::Unauthorized),
        Err(err) => return Err(err.into()),
    };
    state.projected(sequence).await?;
    Ok(Granted {
        user: user.view()?,
        refresh_token,
    })
}

/// Ends the session of refresh token `token`, if it has a live one.
pub(crate) async fn logout(state: &AppState, token: &str) -> Result<(), ApiError> {
    match find(state, token).await? {
        Some(session) if !session.revoked => {
            revoke(state, &session, SessionRevokedReason::Logout).await
        }
        _ => Ok(()),
    }
}

async fn revoke(
    state: &AppState,
    session: &SessionRow,
    reason: SessionRevokedReason,
) -> Result<(), ApiError> {
    state
        .record(
            contract::auth::session_subject(session.family_id),
            &AuthEvent::SessionRevoked {
                family_id: session.family_id,
                reason,
                at: OffsetDateTime::now_utc(),
            },
            &format!("revoke-{}", session.family_id),
            None,
        )
        .await
}

fn refresh_expiry(state: &AppState, now: OffsetDateTime) -> OffsetDateTime {
    now + time::Duration::seconds(
        i64::try_from(state.tokens.refresh_ttl_secs).unwrap_or(i64::MAX / 2),
    )
}
