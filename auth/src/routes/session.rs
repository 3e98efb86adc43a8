//! `/api/auth/login`, `/api/auth/refresh` and `/api/auth/logout`: sessions, with the refresh
//! token in an httpOnly cookie for browsers or in the JSON body for other clients.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::auth::{LoginRequest, RefreshRequest, TokenResponse};
use plumbing::error::JsonBody;

use crate::error::{AccountDisabled, ApiError, BadInput, RateLimited, TooLarge, Unavailable};
use crate::sessions::{self, Granted};
use crate::state::AppState;
use crate::tokens;

/// Name of the httpOnly cookie that carries the refresh token.
const REFRESH_COOKIE: &str = "refresh_token";

#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "an access token; the refresh token also in an httpOnly cookie", body = TokenResponse,
            headers(("set-cookie" = String, description = "refresh_token, HttpOnly, SameSite=Strict, Path=/api/auth"))),
        (status = 401, description = "wrong email or password", body = contract::ErrorBody),
        AccountDisabled, BadInput, TooLarge, RateLimited, Unavailable
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = state.trusted_proxies.client_ip(peer.ip(), &headers);
    let granted = sessions::login(&state, &request.email, request.password, ip).await?;
    token_response(&state, granted)
}

#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "only for clients without the cookie"),
    responses(
        (status = 200, description = "a new access token; the refresh token rotated", body = TokenResponse),
        (status = 401, description = "no valid refresh token: missing, expired, revoked or used before", body = contract::ErrorBody),
        AccountDisabled, RateLimited, Unavailable
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let token = presented_refresh_token(&headers, &body).ok_or(ApiError::Unauthorized)?;
    let granted = sessions::refresh(&state, &token).await?;
    token_response(&state, granted)
}

#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "only for clients without the cookie"),
    responses(
        (status = 204, description = "the session ended and the cookie cleared"),
        Unavailable
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if let Some(token) = presented_refresh_token(&headers, &body) {
        sessions::logout(&state, &token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(&state, "", 0)?);
    Ok(response)
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

fn refresh_cookie(state: &AppState, token: &str, max_age: u64) -> Result<HeaderValue, ApiError> {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/api/auth; Max-Age={max_age}{secure}"
    ))
    .map_err(|err| ApiError::Internal(err.into()))
}

/// A fresh access token and the refresh token, in the body and in the cookie.
fn token_response(state: &AppState, granted: Granted) -> Result<Response, ApiError> {
    let Granted {
        user,
        refresh_token,
    } = granted;
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
