//! xtask's tests, one binary: the operations files (compose, Kubernetes, Grafana, the services'
//! environment, the configuration page) keep their promises and pass their own programs' schemas,
//! and the code keeps its shape (no import loops, small files and functions).

mod compose;
mod env;
mod grafana;
mod helpers;
mod k8s;
mod structure;
mod validate;
