//! The HTTP API of auth: register, login, refresh, logout, me, JWKS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use contract::auth::{
    AuthEvent, ChangePasswordRequest, Claims, Jwks, LoginRequest, RefreshRequest, RegisterRequest,
    Role, SessionRevokedReason, TokenResponse, UserView,
};
use plumbing::error::{JsonBody, error_response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::keys::Keys;
use crate::limits::{Failures, LoginLimits};
use crate::projector::Projection;
use crate::store::{PublishError, Publisher};
use crate::tokens::{self, TokenSettings};
use crate::{email, passwords};

/// Name of the httpOnly cookie that carries the refresh token.
pub const REFRESH_COOKIE: &str = "refresh_token";

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub publisher: Publisher,
    pub pool: PgPool,
    pub projection: Projection,
    pub keys: Arc<Keys>,
    pub tokens: TokenSettings,
    /// How long a command waits for its event to be projected before answering 503.
    pub projection_timeout: Duration,
    /// Whether the refresh cookie is marked `Secure` (served over TLS).
    pub secure_cookies: bool,
    pub logins: Family<Vec<(&'static str, String)>, Counter>,
    /// Failed-login counters, opened on first use.
    pub failures: Arc<tokio::sync::OnceCell<Failures>>,
    pub login_limits: LoginLimits,
    /// Peers whose `X-Forwarded-For` names the client (edge).
    pub trusted_proxies: plumbing::forwarded::TrustedProxies,
}

/// The routes under `/api/auth/` and the JWKS.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
        .route("/api/auth/password", post(change_password))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(crate::admin::router())
        .with_state(state)
        .merge(plumbing::http::openapi_route(
            &<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi(),
        ))
}

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("the account is disabled")]
    Disabled,
    #[error("{0}")]
    Forbidden(String),
    #[error("too many failed attempts, retry in {0} seconds")]
    TooManyRequests(u64),
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Disabled => (StatusCode::FORBIDDEN, "account_disabled"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let mut response = error_response(status, code, self.to_string());
        if let ApiError::TooManyRequests(seconds) = self
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<PublishError> for ApiError {
    fn from(err: PublishError) -> Self {
        match err {
            PublishError::Conflict => {
                ApiError::Conflict("changed concurrently, try again".to_owned())
            }
            PublishError::Unavailable(cause) => ApiError::Unavailable(cause),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::Unavailable(format!("postgres: {err}"))
    }
}

impl AppState {
    async fn failures(&self) -> Result<&Failures, ApiError> {
        self.failures
            .get_or_try_init(|| Failures::open(self.publisher.context(), self.login_limits.clone()))
            .await
            .map_err(|err| ApiError::Unavailable(format!("{err:#}")))
    }

    /// Answers only once the projection holds the event (read-your-writes).
    pub async fn projected(&self, sequence: u64) -> Result<(), ApiError> {
        if self
            .projection
            .wait_for(sequence, self.projection_timeout)
            .await
        {
            Ok(())
        } else {
            Err(ApiError::Unavailable(format!(
                "projection did not reach sequence {sequence} in {:?}",
                self.projection_timeout
            )))
        }
    }
}

#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "the account, with the role user", body = UserView),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 413, description = "the body is too large", body = contract::ErrorBody),
        (status = 429, description = "too many requests (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn register(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<Response, ApiError> {
    let name = request.name.unwrap_or_default();
    let user = register_user(&state, &request.email, request.password, &name, Role::User).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// Validates, claims the email on the stream (only the first claim wins), publishes the user and
/// answers once the projection holds it.
pub async fn register_user(
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
    let sequence = state
        .publisher
        .publish(
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
    state.projected(sequence).await?;
    Ok(UserView {
        id: user_id,
        email,
        name,
        role,
    })
}

/// A user row as login needs it.
#[derive(Debug, sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    password_hash: String,
    role: String,
    disabled: bool,
}

impl UserRow {
    fn view(&self) -> Result<UserView, ApiError> {
        Ok(UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: parse_role(&self.role)?,
        })
    }
}

/// Refuses control characters (NUL above all, which PostgreSQL text cannot hold: an event
/// carrying one would stop the projection).
pub fn plain_text(field: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// A role as the projection stores it; anything else there is a bug, not bad input.
pub fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse()
        .map_err(|err: String| ApiError::Internal(anyhow::anyhow!(err)))
}

const USER_BY_ID: &str =
    "SELECT id, email, name, password_hash, role, disabled FROM users WHERE id = $1";

#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "an access token; the refresh token also in an httpOnly cookie", body = TokenResponse,
            headers(("set-cookie" = String, description = "refresh_token, HttpOnly, SameSite=Strict, Path=/api/auth"))),
        (status = 401, description = "wrong email or password", body = contract::ErrorBody),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 413, description = "the body is too large", body = contract::ErrorBody),
        (status = 429, description = "too many requests (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let email_hash = email::hash(&request.email);
    let ip = state.trusted_proxies.client_ip(peer.ip(), &headers);
    let failures = state.failures().await?;
    let unavailable = |err: anyhow::Error| ApiError::Unavailable(format!("{err:#}"));
    if let Some(wait) = failures
        .locked(&email_hash, ip)
        .await
        .map_err(unavailable)?
    {
        count(&state, "locked");
        return Err(ApiError::TooManyRequests(wait));
    }
    let user: Option<UserRow> = sqlx::query_as(
        "SELECT id, email, name, password_hash, role, disabled FROM users WHERE email_hash = $1",
    )
    .bind(email::hash(&request.email))
    .fetch_optional(&state.pool)
    .await?;
    let Some(user) = user else {
        passwords::verify_dummy(request.password).await?;
        failures
            .record_failure(&email_hash, ip)
            .await
            .map_err(unavailable)?;
        count(&state, "failure");
        return Err(ApiError::InvalidCredentials);
    };
    let at = OffsetDateTime::now_utc();
    if !passwords::verify(request.password, user.password_hash.clone()).await? {
        state
            .publisher
            .publish(
                contract::auth::login_subject(user.id),
                &AuthEvent::LoginFailed {
                    user_id: user.id,
                    at,
                },
                &Uuid::now_v7().to_string(),
                None,
            )
            .await?;
        failures
            .record_failure(&email_hash, ip)
            .await
            .map_err(unavailable)?;
        count(&state, "failure");
        return Err(ApiError::InvalidCredentials);
    }
    if user.disabled {
        count(&state, "failure");
        return Err(ApiError::Disabled);
    }
    state
        .publisher
        .publish(
            contract::auth::login_subject(user.id),
            &AuthEvent::LoginSucceeded {
                user_id: user.id,
                at,
            },
            &Uuid::now_v7().to_string(),
            None,
        )
        .await?;
    let family_id = Uuid::now_v7();
    let (refresh_token, token_hash) = tokens::new_refresh_token()?;
    let sequence = state
        .publisher
        .publish(
            contract::auth::session_subject(family_id),
            &AuthEvent::SessionStarted {
                family_id,
                user_id: user.id,
                token_hash,
                expires_at: refresh_expiry(&state, at),
                at,
            },
            &format!("session-{family_id}"),
            Some(0),
        )
        .await?;
    state.projected(sequence).await?;
    failures.clear(&email_hash, ip).await.map_err(unavailable)?;
    count(&state, "success");
    token_response(&state, user.view()?, refresh_token)
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

async fn find_session(state: &AppState, token: &str) -> Result<Option<SessionRow>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT s.family_id, s.user_id, s.expires_at, s.revoked_at IS NOT NULL AS revoked,
                t.rotated_at IS NOT NULL AS rotated, s.version
         FROM session_tokens t JOIN sessions s ON s.family_id = t.family_id
         WHERE t.token_hash = $1",
    )
    .bind(tokens::refresh_hash(token))
    .fetch_optional(&state.pool)
    .await?)
}

#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "only for clients without the cookie"),
    responses(
        (status = 200, description = "a new access token; the refresh token rotated", body = TokenResponse),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 429, description = "too many requests (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let token = presented_refresh_token(&headers, &body).ok_or(ApiError::Unauthorized)?;
    let session = find_session(&state, &token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let at = OffsetDateTime::now_utc();
    if session.revoked || session.expires_at <= at {
        return Err(ApiError::Unauthorized);
    }
    if session.rotated {
        // A rotated token came back: whoever holds the family may have stolen it. End it.
        revoke(&state, &session, SessionRevokedReason::TokenReuse).await?;
        return Err(ApiError::Unauthorized);
    }
    let user: UserRow = sqlx::query_as(USER_BY_ID)
        .bind(session.user_id)
        .fetch_optional(&state.pool)
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
                previous_hash: tokens::refresh_hash(&token),
                token_hash,
                expires_at: refresh_expiry(&state, at),
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
    token_response(&state, user.view()?, refresh_token)
}

#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "only for clients without the cookie"),
    responses(
        (status = 204, description = "the session ended and the cookie cleared"),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if let Some(token) = presented_refresh_token(&headers, &body) {
        if let Some(session) = find_session(&state, &token).await? {
            if !session.revoked {
                revoke(&state, &session, SessionRevokedReason::Logout).await?;
            }
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(&state, "", 0)?);
    Ok(response)
}

async fn revoke(
    state: &AppState,
    session: &SessionRow,
    reason: SessionRevokedReason,
) -> Result<(), ApiError> {
    let sequence = state
        .publisher
        .publish(
            contract::auth::session_subject(session.family_id),
            &AuthEvent::SessionRevoked {
                family_id: session.family_id,
                reason,
                at: OffsetDateTime::now_utc(),
            },
            &format!("revoke-{}", session.family_id),
            None,
        )
        .await?;
    state.projected(sequence).await
}

#[utoipa::path(
    get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller", body = UserView),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "no such user or project", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    let user: UserRow = sqlx::query_as(USER_BY_ID)
        .bind(claims.sub)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(ApiError::NotFound)?;
    if user.disabled {
        return Err(ApiError::Disabled);
    }
    Ok(Json(user.view()?).into_response())
}

#[utoipa::path(
    post, path = "/api/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "changed; every other session ended"),
        (status = 401, description = "no valid token, or the current password is wrong", body = contract::ErrorBody),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently, or it would leave no admin", body = contract::ErrorBody),
        (status = 413, description = "the body is too large", body = contract::ErrorBody),
        (status = 429, description = "too many requests (Retry-After)", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    check_password_length(&request.new_password)?;
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT password_hash, version FROM users WHERE id = $1")
            .bind(claims.sub)
            .fetch_optional(&state.pool)
            .await?;
    let (current_hash, version) = row.ok_or(ApiError::Unauthorized)?;
    if !passwords::verify(request.current_password, current_hash).await? {
        return Err(ApiError::InvalidCredentials);
    }
    let password_hash = passwords::hash(request.new_password).await?;
    let sequence = state
        .publisher
        .publish(
            contract::auth::user_subject(claims.sub),
            &AuthEvent::PasswordChanged {
                user_id: claims.sub,
                password_hash,
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(u64::try_from(version).unwrap_or(0)),
        )
        .await?;
    state.projected(sequence).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_password_length(password: &str) -> Result<(), ApiError> {
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

#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "the keys access tokens are signed with", body = Jwks))
)]
async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.keys.jwks().clone()),
    )
        .into_response()
}

/// The verified claims of the `Authorization: Bearer` token.
pub fn bearer_claims(state: &AppState, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    tokens::verify_access(&state.keys, &state.tokens, token.trim()).map_err(|err| {
        tracing::debug!(error = %err, "bearer token refused");
        ApiError::Unauthorized
    })
}

/// The refresh token from the httpOnly cookie (browsers) or the JSON body (other clients).
fn presented_refresh_token(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty());
    from_cookie.or_else(|| {
        serde_json::from_slice::<RefreshRequest>(body)
            .ok()
            .and_then(|request| request.refresh_token)
    })
}

fn refresh_expiry(state: &AppState, now: OffsetDateTime) -> OffsetDateTime {
    now + time::Duration::seconds(
        i64::try_from(state.tokens.refresh_ttl_secs).unwrap_or(i64::MAX / 2),
    )
}

fn refresh_cookie(state: &AppState, token: &str, max_age: u64) -> Result<HeaderValue, ApiError> {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/api/auth; Max-Age={max_age}{secure}"
    ))
    .map_err(|err| ApiError::Internal(err.into()))
}

fn token_response(
    state: &AppState,
    user: UserView,
    refresh_token: String,
) -> Result<Response, ApiError> {
    let access_token = tokens::issue_access(&state.keys, &state.tokens, user.id, user.role)?;
    let cookie = refresh_cookie(state, &refresh_token, state.tokens.refresh_ttl_secs)?;
    let body = TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.access_ttl_secs,
        refresh_token,
        user,
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn count(state: &AppState, result: &str) {
    state
        .logins
        .get_or_create(&vec![("result", result.to_owned())])
        .inc();
}
