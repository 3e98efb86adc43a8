//! What ingest adds to an event beyond what the SDK sent: browser, OS and bot flag from the user
//! agent, the anonymised client address and where it is, the campaign and channel the visit
//! came by, and cookieless visitor ids. Nothing here knows about HTTP.

pub(crate) mod acquisition;
mod channel;
pub mod geo;
pub(crate) mod ip;
pub(crate) mod place;
mod sources;
pub(crate) mod user_agent;
pub mod visitor;
