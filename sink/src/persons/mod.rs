//! Persons: which distinct ids are one person, and what events set on them. The sink keeps
//! both in ClickHouse (tables in `schema::persons`):
//!
//! - `person_ids`, a projection of the identity links on the `PERSONS` stream ([`mapping`],
//!   applied by the durable consumer `sink-persons` in [`consumer`]; rebuilt from the stream
//!   by [`rebuild_persons`]);
//! - `person_properties`, written with every insert of events ([`properties`]).
//!
//! [`PersonKeys`] tells sink code which person a distinct id is.

pub(crate) mod consumer;
mod lookup;
pub(crate) mod mapping;
pub(crate) mod properties;
mod rebuild;

pub use lookup::{PersonKeys, TTL};
pub use rebuild::{GRACE, rebuild_persons};
