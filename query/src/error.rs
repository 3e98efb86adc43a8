//! Why a query was not answered: one error type for the whole API, its JSON answer, and the
//! error responses the OpenAPI document declares once for every route.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plumbing::error::error_response;

use crate::params::Invalid;

/// Why a query was not answered. A 5xx cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A parameter is missing or invalid; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// No such project (or one the caller may not read), or no such event.
    #[error("{0}")]
    NotFound(String),
    /// The caller may read the project but not do this (a member without the role it needs).
    #[error("{0}")]
    Forbidden(String),
    /// A shared link asks for its password: none was sent, or not the right one.
    #[error("{0}")]
    SharePassword(String),
    /// Too many password attempts on a shared link: retry after this long.
    #[error("too many password attempts")]
    TooManyGuesses(std::time::Duration),
    /// ClickHouse stopped the query at `max_execution_time`.
    #[error("the query took longer than allowed")]
    Timeout,
    /// ClickHouse or NATS cannot answer, or the query went over its memory cap.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    /// The `result` label of `query_queries_total`: the caller's mistake or ours.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Self::Invalid(_)
            | Self::NotFound(_)
            | Self::Forbidden(_)
            | Self::SharePassword(_)
            | Self::TooManyGuesses(_) => "invalid",
            Self::Timeout | Self::Unavailable(_) => "failed",
        }
    }
}

impl From<Invalid> for Error {
    fn from(err: Invalid) -> Self {
        Self::Invalid(err.0)
    }
}

/// TIMEOUT_EXCEEDED: the query ran into `max_execution_time`.
const TIMEOUT_EXCEEDED: u32 = 159;

/// The ClickHouse error code `err` carries, if any.
pub(crate) fn clickhouse_code(err: &clickhouse::error::Error) -> Option<u32> {
    plumbing::clickhouse::exception_code(&err.to_string())
}

impl From<clickhouse::error::Error> for Error {
    fn from(err: clickhouse::error::Error) -> Self {
        if clickhouse_code(&err) == Some(TIMEOUT_EXCEEDED)
            || matches!(err, clickhouse::error::Error::TimedOut)
        {
            Self::Timeout
        } else {
            Self::Unavailable(err.to_string())
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(message) => {
                error_response(StatusCode::BAD_REQUEST, "bad_request", message)
            }
            Self::Forbidden(message) => error_response(StatusCode::FORBIDDEN, "forbidden", message),
            Self::SharePassword(message) => {
                error_response(StatusCode::UNAUTHORIZED, "share_password", message)
            }
            Self::TooManyGuesses(wait) => {
                plumbing::ratelimit::too_many_requests(wait, "password attempts on this link")
            }
            Self::NotFound(message) => error_response(StatusCode::NOT_FOUND, "not_found", message),
            Self::Timeout => error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "query_timeout",
                "the query took longer than allowed; narrow the range or the filters",
            ),
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "query failed");
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the event store cannot answer right now",
                )
            }
        }
    }
}

// The error responses below are the OpenAPI side of `Error` and of the extractors' refusals:
// each set is written once and listed by name in the routes' `responses(...)`. They are only
// described, never built, hence `dead_code` expected on each.

/// What a query answers instead when its caller or its scope is refused, and a ClickHouse that
/// is down or over its memory cap: every query can answer these.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(Debug, utoipa::IntoResponses)]
pub(crate) enum ScopeErrors {
    /// A parameter is missing or invalid (the message names it).
    #[response(status = 400)]
    BadRequest(contract::ErrorBody),
    /// No valid bearer token.
    #[response(status = 401)]
    Unauthorized(contract::ErrorBody),
    /// The token's role is below analyst.
    #[response(status = 403)]
    Forbidden(contract::ErrorBody),
    /// No such project (for `/api/query/events/{id}`: or no such event).
    #[response(status = 404)]
    NotFound(contract::ErrorBody),
    /// The event store (or auth's signing keys) cannot be reached, or the query went over its
    /// memory cap; retry later or narrow the query.
    #[response(status = 503)]
    Unavailable(contract::ErrorBody),
}

/// What the admin routes of a tracked person (erasure, export) answer when refused.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(Debug, utoipa::IntoResponses)]
pub(crate) enum AdminErrors {
    /// The project id or the distinct id is not valid.
    #[response(status = 400)]
    BadRequest(contract::ErrorBody),
    /// No valid bearer token.
    #[response(status = 401)]
    Unauthorized(contract::ErrorBody),
    /// A member of the project without its admin role (instance admins and the project's admins
    /// may).
    #[response(status = 403)]
    Forbidden(contract::ErrorBody),
    /// No such project, or the caller is not a member of it (for the export: or nothing stored
    /// of the id).
    #[response(status = 404)]
    NotFound(contract::ErrorBody),
    /// JetStream or ClickHouse (or auth's signing keys) cannot be reached; retry later.
    #[response(status = 503)]
    Unavailable(contract::ErrorBody),
}

/// What a query that runs SQL answers when ClickHouse stops it at `max_execution_time`.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(Debug, utoipa::IntoResponses)]
pub(crate) enum QueryTimeout {
    /// The query took longer than allowed; narrow the range or the filters.
    #[response(status = 504)]
    GatewayTimeout(contract::ErrorBody),
}

/// What a route with a JSON body answers when the body is over the limit.
#[expect(dead_code, reason = "described in OpenAPI, never built")]
#[derive(Debug, utoipa::IntoResponses)]
#[response(status = 413, description = "the request body is too large")]
pub(crate) struct BodyTooLarge(contract::ErrorBody);

#[cfg(test)]
mod tests {
    use super::*;

    /// ClickHouse 18.16 and current versions say the code differently; both are read.
    #[test]
    fn a_timeout_is_told_apart_in_both_versions_error_texts() {
        let old = "Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.0 \
                   seconds, maximum: 1, e.what() = DB::Exception";
        let current = "Code: 159. DB::Exception: Timeout exceeded: elapsed 1.0 seconds, \
                       maximum: 1. (TIMEOUT_EXCEEDED) (version 26.1.1.1)";
        for text in [old, current] {
            let err = clickhouse::error::Error::BadResponse(text.to_owned());
            assert_eq!(clickhouse_code(&err), Some(159), "{text}");
            assert!(matches!(Error::from(err), Error::Timeout), "{text}");
        }
        let other = clickhouse::error::Error::BadResponse(
            "Code: 158, e.displayText() = DB::Exception: Limit for rows to GROUP BY exceeded"
                .to_owned(),
        );
        assert_eq!(clickhouse_code(&other), Some(158));
        assert!(matches!(Error::from(other), Error::Unavailable(_)));
    }
}
