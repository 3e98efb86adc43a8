//! What every request handler shares: where the services are and the clients that reach them,
//! the verifier of access tokens, who may speak for the client, and the rate limiters. Built
//! once, in `run`.

use plumbing::forwarded::TrustedProxies;
use plumbing::jwt::JwksVerifier;
use plumbing::ratelimit::RateLimiter;

use crate::forward::Proxy;

/// Service name, in logs, metric names, `/readyz` and the system status.
pub(crate) const SERVICE: &str = "edge";

/// The rate limiters of the routing table's `Limit`s.
#[derive(Debug)]
pub(crate) struct Limiters {
    pub(crate) credentials_per_client: RateLimiter,
    pub(crate) credentials_per_account: RateLimiter,
    pub(crate) per_user: RateLimiter,
}

#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) proxy: Proxy,
    pub(crate) tokens: JwksVerifier,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) limiters: Limiters,
}
