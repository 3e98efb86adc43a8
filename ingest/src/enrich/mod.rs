//! What ingest adds to an event beyond what the SDK sent: browser, OS and bot flag from the user
//! agent, the anonymised client address, and cookieless visitor ids. Nothing here knows about
//! HTTP.

pub(crate) mod ip;
pub(crate) mod user_agent;
pub mod visitor;
