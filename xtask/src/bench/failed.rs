//! A failed run's evidence: the stack's log files (each service's, nats-server's, ClickHouse's,
//! Postgres's) copied out of the run's temporary folder to `target/bench/failed-<time>/`
//! before that folder is removed.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

/// The tail of a log kept when it is longer (ClickHouse's own log grows fast).
const MAX_BYTES: u64 = 64 << 20;

/// Copies every `*.log` under `dir` to `target/bench/failed-<UTC time>/`, keeping the folders
/// they were in, and prints where; a copy that fails is named, not a second error.
pub(crate) fn keep_logs(dir: &Path) {
    let now = time::OffsetDateTime::now_utc();
    let out = devstack::workspace_root().join(format!(
        "target/bench/failed-{}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    ));
    match copy_logs(dir, &out) {
        Ok(count) => eprintln!(
            "bench: the run failed; {count} log files of its stack kept in {}",
            out.display()
        ),
        Err(err) => eprintln!(
            "bench: the run failed; keeping its logs in {} failed: {err}",
            out.display()
        ),
    }
}

/// Copies every `*.log` under `from` to the same place under `to`, at most its last
/// `MAX_BYTES`; how many.
pub(crate) fn copy_logs(from: &Path, to: &Path) -> std::io::Result<usize> {
    let mut copied = 0;
    let mut folders = vec![from.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let (path, kind) = (entry.path(), entry.file_type()?);
            if kind.is_dir() {
                folders.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "log") {
                let relative = path.strip_prefix(from).unwrap_or(&path);
                let target = to.join(relative);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                copy_tail(&path, &target)?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}

fn copy_tail(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut file = std::fs::File::open(from)?;
    let length = file.metadata()?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(MAX_BYTES)))?;
    let mut tail = Vec::new();
    file.take(MAX_BYTES).read_to_end(&mut tail)?;
    std::fs::write(to, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_logs_in_their_folders_and_nothing_else() -> anyhow::Result<()> {
        let from = devstack::test::TempDir::new("failed-from")?;
        let to = devstack::test::TempDir::new("failed-to")?;
        let dir = from.path();
        std::fs::create_dir_all(dir.join("clickhouse/log"))?;
        std::fs::write(dir.join("ingest.log"), "ingest said this")?;
        std::fs::write(dir.join("clickhouse/log/clickhouse-server.err.log"), "oops")?;
        std::fs::write(dir.join("clickhouse/data.bin"), "not a log")?;
        let kept = to.path().join("failed-1");
        assert_eq!(copy_logs(dir, &kept)?, 2);
        assert_eq!(
            std::fs::read_to_string(kept.join("ingest.log"))?,
            "ingest said this"
        );
        assert_eq!(
            std::fs::read_to_string(kept.join("clickhouse/log/clickhouse-server.err.log"))?,
            "oops"
        );
        assert!(!kept.join("clickhouse/data.bin").exists());
        Ok(())
    }
}
