//! Plumbing against real servers, one binary with a module per topic. The OTLP export test
//! stays a binary of its own (`tests/otlp.rs`): the tracing subscriber it installs is global to
//! the process and would collect the spans of every other test here.

mod jwks;
mod leftover;
mod nats_users;
mod provision;
mod replicas;
