//! Bodies of `GET /healthz` and `GET /readyz`, the same on every service.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Overall state of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Alive (`/healthz`) or able to serve (`/readyz`).
    Ok,
    /// A dependency is unreachable.
    Unavailable,
    /// The service received a shutdown signal and is finishing in-flight work.
    ShuttingDown,
}

/// State of one dependency as seen by a readiness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Up,
    Down,
}

/// Body of `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub service: String,
    pub status: Status,
    /// One entry per dependency (readiness only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, CheckStatus>,
}
