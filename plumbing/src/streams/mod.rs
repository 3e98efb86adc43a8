//! JetStream provisioning from the definitions in `nats/`: the same JSON files that
//! `nats stream add --config` and `nats consumer add --config` accept. Creating is idempotent;
//! a changed definition updates the stream or consumer in place.

mod connection;
mod definitions;
mod provision;

pub use crate::connect::{connect, connect_options};
pub use connection::JetStream;
pub use definitions::{ConsumerDefinition, Definitions, EventBudgets, Service};
pub use provision::{provision, raise_replicas};
