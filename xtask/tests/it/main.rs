//! xtask's tests, one binary: the operations files (compose, Kubernetes, Grafana, the services'
//! environment) keep their promises and pass their own programs' schemas.

mod compose;
mod env;
mod grafana;
mod helpers;
mod k8s;
mod validate;
