//! Edge's HTTP routes, one module per group: the routing table's routes, checked and forwarded,
//! the system status edge answers itself, and PostHog's script-tag path (its bundle, flags and
//! remote config).

pub(crate) mod posthog;
pub(crate) mod proxy;
pub(crate) mod status;
