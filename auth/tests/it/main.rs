//! Auth's end-to-end tests against real nats-server and PostgreSQL, in one test binary: one
//! module per topic, the shared `TestAuth` in `helpers`.

mod accounts;
mod admins;
mod annotations;
mod api_keys;
mod health;
mod helpers;
mod history;
mod insights;
mod invites;
mod login_limits;
mod members;
mod outage;
mod password_resets;
mod projection;
mod projects;
mod retention;
mod sessions;
mod shares;
mod tokens;
