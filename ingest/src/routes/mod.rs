//! The intake endpoints, one file per group: each turns a request into our events with its wire
//! format's module and stores them through [`intake`]. The `openapi` module documents them.

pub(crate) mod cors;
pub(crate) mod events;
pub(crate) mod imports;
mod intake;
pub(crate) mod posthog;
pub(crate) mod script;
pub(crate) mod segment;
