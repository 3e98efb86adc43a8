//! The HTTP handlers, one file per endpoint group. Each parses its input with typed extractors,
//! calls the domain, and shapes the answer; `lib.rs` puts them on their paths.

pub(crate) mod account;
pub(crate) mod annotations;
pub(crate) mod api_keys;
pub(crate) mod dashboards;
pub(crate) mod history;
pub(crate) mod insights;
pub(crate) mod invites;
pub(crate) mod jwks;
pub(crate) mod keys;
pub(crate) mod members;
pub(crate) mod password_resets;
pub(crate) mod projects;
pub(crate) mod session;
pub(crate) mod shares;
pub(crate) mod users;
