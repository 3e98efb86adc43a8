//! Real servers as local processes, for `cargo xtask up` and for tests: NATS with JetStream,
//! PostgreSQL, ClickHouse (alone, or as a cluster with ZooKeeper), and headless Chromium driven over WebDriver. Also finds (and, on
//! Debian/Ubuntu, installs) the binaries they need. Everything here is blocking: call it from a
//! plain thread, or from a test whose services run on their own runtime ([`test::spawn_service`]).

pub mod browser;
pub mod chdb;
pub mod clickhouse;
pub mod demo;
pub mod hostile;
pub mod http;
pub mod install;
pub mod nats;
pub mod ports;
pub mod postgres;
pub mod process;
#[cfg(feature = "services")]
pub mod stack;
pub mod test;
mod test_clusters;
mod test_servers;
pub mod wait;
pub mod zookeeper;

use std::path::PathBuf;

/// The workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), PathBuf::from)
}

/// `name` is a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`), safe to splice into DDL.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A new random secret for a generated password: 244 bits from the operating system's random
/// source, as a letter and 64 hexadecimal digits (safe in URLs, configuration files and shell
/// lines). It starts with a letter because nats-server reads a password given through an
/// environment variable as a configuration value, and one that starts with digits can be taken
/// for a number.
pub fn secret() -> String {
    format!(
        "s{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
