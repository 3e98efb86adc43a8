//! What every test module here reads: the workspace's files.

use std::path::PathBuf;

/// The workspace root (the folder holding the root `Cargo.toml`).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The text of `path` (relative to the workspace root); a missing file fails the test.
pub(crate) fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}
