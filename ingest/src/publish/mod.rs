//! Storing a request's events: encoded once (with the identity links they make), charged to
//! the intake quotas, then published to JetStream with every ack awaited. Nothing here knows
//! about HTTP.

pub(crate) mod encode;
pub(crate) mod jetstream;
pub(crate) mod links;
pub mod quota;
