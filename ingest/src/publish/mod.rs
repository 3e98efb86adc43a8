//! Storing a request's events: encoded once, charged to the intake quotas, then published to
//! JetStream with every ack awaited. Nothing here knows about HTTP.

pub(crate) mod encode;
pub(crate) mod jetstream;
pub mod quota;
