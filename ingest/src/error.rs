//! Why a request was refused, as the client sees it: one error type with one answer each, and
//! the refusals the OpenAPI document lists more than once, declared once for every route that
//! answers them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plumbing::error::error_response;

use crate::body::BodyError;
use crate::import::jobs::upload::UploadError;
use crate::publish::jetstream::NotStored;
use crate::publish::quota::OverQuota;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("unknown or revoked project key")]
    UnknownKey,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("events could not be stored, retry later")]
    Unavailable(String),
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("{0}")]
    OverQuota(OverQuota),
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        if let IngestError::OverQuota(over) = self {
            return plumbing::ratelimit::too_many_requests(over.wait, over.what);
        }
        let (status, code) = match &self {
            IngestError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            IngestError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            IngestError::UnknownKey => (StatusCode::UNAUTHORIZED, "invalid_api_key"),
            IngestError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            IngestError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            IngestError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            IngestError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "jetstream did not store events");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            IngestError::OverQuota(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            IngestError::InsufficientStorage(_) => {
                (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage")
            }
        };
        let mut response = error_response(status, code, self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<BodyError> for IngestError {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::TooLarge(_)
            | BodyError::TooManyEvents
            | BodyError::TooMuchData
            | BodyError::EventTooLarge => IngestError::TooLarge(err.to_string()),
            BodyError::BadGzip | BodyError::BadBase64 | BodyError::Invalid(_) => {
                IngestError::BadRequest(err.to_string())
            }
        }
    }
}

impl From<UploadError> for IngestError {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::TooLarge(_) => IngestError::TooLarge(err.to_string()),
            UploadError::Compressed | UploadError::Empty | UploadError::Broken(_) => {
                IngestError::BadRequest(err.to_string())
            }
            UploadError::Busy(_) => IngestError::Conflict(err.to_string()),
            UploadError::Full(_) => IngestError::InsufficientStorage(err.to_string()),
            UploadError::Unavailable(cause) => IngestError::Unavailable(cause),
        }
    }
}

impl From<OverQuota> for IngestError {
    fn from(over: OverQuota) -> Self {
        IngestError::OverQuota(over)
    }
}

impl From<NotStored> for IngestError {
    fn from(NotStored(cause): NotStored) -> Self {
        IngestError::Unavailable(cause)
    }
}

// Each response below names the body it documents in its one field; the types are never built,
// only named in the handlers' `responses(...)`.

/// The 400 of every intake route.
#[derive(Debug, utoipa::IntoResponses)]
#[response(
    status = 400,
    description = "no valid event, or a body that cannot be read"
)]
pub(crate) struct BadBody(
    #[expect(dead_code, reason = "documents the body; never built")] contract::ErrorBody,
);

/// The 401 of the SDK routes that take a write key (PostHog's and Segment's).
#[derive(Debug, utoipa::IntoResponses)]
#[response(status = 401, description = "unknown or revoked write key")]
pub(crate) struct UnknownWriteKey(
    #[expect(dead_code, reason = "documents the body; never built")] contract::ErrorBody,
);

/// The 413 of the routes that take a batch of events.
#[derive(Debug, utoipa::IntoResponses)]
#[response(
    status = 413,
    description = "the body is larger than 1 MiB, or than 20 MiB once decompressed, or holds more than 1000 events"
)]
pub(crate) struct BatchTooLarge(
    #[expect(dead_code, reason = "documents the body; never built")] contract::ErrorBody,
);

/// The 413 of the script routes, which take one small event.
#[derive(Debug, utoipa::IntoResponses)]
#[response(
    status = 413,
    description = "the body is larger than 1 MiB, or than 32 KiB once decompressed"
)]
pub(crate) struct EventTooLarge(
    #[expect(dead_code, reason = "documents the body; never built")] contract::ErrorBody,
);

/// The 429 of the routes whose events count only against their project's quota.
#[derive(Debug, utoipa::IntoResponses)]
#[response(
    status = 429,
    description = "over the project's intake quota; nothing was stored (Retry-After)"
)]
pub(crate) struct OverProjectQuota(
    #[expect(dead_code, reason = "documents the body; never built")] contract::ErrorBody,
);

/// The 429 of `POST /api/events`, whose events also count against the user's byte budget.
#[derive(Debug, utoipa::IntoResponses)]
#[response(
    status = 429,
    description = "over the project's intake quota, or the user's byte budget; nothing was stored (Retry-After)"
)]
pub(crate) struct OverProjectOrUserQuota(
    #[expect(dead_code, reason = "documents the body; never built")] contract::ErrorBody,
);

/// The 503 of every intake route.
#[derive(Debug, utoipa::IntoResponses)]
#[response(
    status = 503,
    description = "events could not be stored; retry (Retry-After)"
)]
pub(crate) struct StoreUnavailable(
    #[expect(dead_code, reason = "documents the body; never built")] contract::ErrorBody,
);
