//! The demo traffic of `cargo xtask demo`: a few weeks of made-up but lifelike traffic for a
//! small shop, sent through the public SDK routes, so a fresh install shows a living dashboard
//! within a minute. It lives here, beside the servers, so edge's tests can send it through a
//! whole stack without depending on the `xtask` binary.
//!
//! Visitors have a stable `distinct_id`, a browser, OS and device, and arrive from a search
//! engine, a social site, Hacker News, a newsletter or directly; they come more on weekdays and
//! in the afternoon and evening, browse a few pages per session, and some of them walk down the
//! shop funnel (`product_viewed` → `add_to_cart` → `checkout_started` → `order_completed`), losing
//! people at every step. About a third come back on later days, so retention has something to
//! show. The browser events go to PostHog's `/batch/`, the orders (recorded by the shop's server)
//! to Segment's `/v1/batch`. Everything follows from the seed and the moment of the run.

mod generate;
mod plan;
mod rng;
mod send;
mod shop;
mod summary;
mod wire;

pub use plan::{FUNNEL, MAX_BATCH_EVENTS, Options, Plan};
pub use rng::Rng;
pub use send::run;
pub use summary::Summary;

#[cfg(test)]
mod tests;
