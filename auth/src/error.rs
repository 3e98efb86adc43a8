//! The one error type of auth's handlers, its JSON answer, and the error responses many routes
//! share, declared once for the OpenAPI document.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::ErrorBody;
use plumbing::error::error_response;

use crate::store::PublishError;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
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
    /// A 404 that says why (an invite link used, withdrawn or expired).
    #[error("{0}")]
    NotFoundBecause(String),
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A dependency (NATS, Postgres) that did not answer; the cause is logged, not sent.
    pub(crate) fn unavailable(cause: impl std::fmt::Display) -> Self {
        ApiError::Unavailable(cause.to_string())
    }
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
            ApiError::NotFound | ApiError::NotFoundBecause(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
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

// The error responses below are the OpenAPI side of `ApiError`: each is written once and listed
// by name in the routes' `responses(...)`. They are only described, never built (the answers
// themselves are `ApiError`s), hence `dead_code` expected on each.

/// 400 for input that does not parse or validate.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
#[response(status = 400, description = "bad input")]
pub(crate) struct BadInput(ErrorBody);

/// 401 and 403 of every route the `Admin` extractor guards.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
pub(crate) enum AdminRefusals {
    #[response(status = 401, description = "no valid bearer token")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "not an admin, or the account is disabled")]
    Forbidden(ErrorBody),
}

/// What a route of one project refuses: a caller who may not manage it (instance admins and the
/// project's admins may), and a project they may not see, which is the same as none.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
pub(crate) enum ProjectAdminRefusals {
    #[response(status = 401, description = "no valid bearer token")]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "a member without the admin role on the project, or the account is disabled"
    )]
    Forbidden(ErrorBody),
    #[response(
        status = 404,
        description = "no such project, or the caller is not a member of it"
    )]
    NotFound(ErrorBody),
}

/// What a route of a project's saved work refuses: a member without the role it needs
/// (viewers read, analysts and admins write), and a project the caller may not see.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
pub(crate) enum ProjectRefusals {
    #[response(status = 401, description = "no valid bearer token")]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "a member without the role this needs on the project, or the account is disabled"
    )]
    Forbidden(ErrorBody),
    #[response(
        status = 404,
        description = "no such project (or the caller is not a member of it), or no such item in it"
    )]
    NotFound(ErrorBody),
}

/// 403 of the caller's own routes: they check no role, only that the account is enabled.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
#[response(status = 403, description = "the account is disabled")]
pub(crate) struct AccountDisabled(ErrorBody);

/// 404 for a user or project id that does not exist.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
#[response(status = 404, description = "no such user or project")]
pub(crate) struct NotFound(ErrorBody);

/// 409 when the entity changed between read and write, a cap on how many there may be is
/// reached (API keys, insights, dashboards, shared links), or the last-admin rule refuses.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
#[response(
    status = 409,
    description = "changed concurrently, a cap on how many there may be reached, or it would leave no admin"
)]
pub(crate) struct Conflict(ErrorBody);

/// 413 of every route with a JSON body.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
#[response(status = 413, description = "the body is too large")]
pub(crate) struct TooLarge(ErrorBody);

/// 429 with `Retry-After`.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
#[response(status = 429, description = "too many requests (Retry-After)")]
pub(crate) struct RateLimited(ErrorBody);

/// 503 of every route that reads or writes state.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(utoipa::IntoResponses)]
#[response(status = 503, description = "a dependency is down; retry")]
pub(crate) struct Unavailable(ErrorBody);
