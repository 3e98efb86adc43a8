//! Edge's HTTP routes, one module per group: the routing table's routes, checked and forwarded,
//! and the system status edge answers itself.

pub(crate) mod proxy;
pub(crate) mod status;
