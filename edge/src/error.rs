//! Edge's own answers to what it refuses or cannot forward, in the JSON error shape every
//! service answers with (`{"error": {"code", "message"}}`). What went wrong upstream is logged
//! where it happened, never sent to the client.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plumbing::error::error_response;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// An `/api/` path no route names.
    #[error("no such API route")]
    NotFound,
    /// A method the route does not answer; `allow` lists those it does.
    #[error("this path answers {allow}")]
    MethodNotAllowed { allow: String },
    /// A body over the route's limit, refused before (or while) it is forwarded. The
    /// connection is closed after the answer, as the rest of the body is drained.
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// A login or registration body over what edge reads to find the account.
    #[error("the request body is too large")]
    CredentialsTooLarge,
    /// Over a rate limit of edge's; `what` names what was counted.
    #[error("too many {what}")]
    RateLimited { wait: Duration, what: &'static str },
    /// The service behind edge cannot be reached.
    #[error("the service is unavailable; try again shortly")]
    Unavailable,
    /// The service behind edge sent nothing for the upstream timeout.
    #[error("the service did not answer in time")]
    UpstreamTimeout,
    /// A service did not give its part of the OpenAPI document.
    #[error("the API description is unavailable while a service is down")]
    DocumentUnavailable,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            Error::BodyTooLarge { .. } | Error::CredentialsTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            Error::RateLimited { wait, what } => {
                return plumbing::ratelimit::too_many_requests(*wait, what);
            }
            Error::Unavailable | Error::DocumentUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            Error::UpstreamTimeout => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
        };
        let mut response = error_response(status, code, self.to_string());
        let headers = response.headers_mut();
        match &self {
            Error::MethodNotAllowed { allow } => {
                if let Ok(allow) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, allow);
                }
            }
            Error::BodyTooLarge { .. } => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}
