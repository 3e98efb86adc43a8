//! xtask's tests, one binary: the operations files (compose, Kubernetes, Grafana, the services'
//! environment, the configuration page) keep their promises and pass their own programs' schemas,
//! the code keeps its shape (no import loops, small files and functions), and `import` stores
//! past events exactly once.

mod compose;
mod env;
mod grafana;
mod helpers;
mod import;
mod k8s;
mod structure;
mod validate;
