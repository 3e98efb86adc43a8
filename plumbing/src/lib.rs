//! Service plumbing shared by every service: typed configuration from the environment, JSON
//! logs, Prometheus metrics, `/healthz` `/readyz` `/metrics`, graceful shutdown and JetStream
//! provisioning from the definitions in `nats/`.

#[cfg(feature = "clickhouse")]
pub mod clickhouse;
pub mod config;
mod connect;
pub mod error;
pub mod forwarded;
pub mod health;
pub mod http;
#[cfg(feature = "jwt")]
pub mod jwt;
mod leftover;
pub mod metrics;
pub mod projects;
pub mod ratelimit;
pub mod shutdown;
pub mod startup;
pub mod streams;
pub mod telemetry;
pub mod traceparent;
