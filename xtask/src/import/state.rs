//! Where an import stands (ingest's [`Saved`]): the state file next to the input
//! (`<file>.import-state`), which a rerun continues from, and the progress line on stderr.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ingest::import::run::Saved;
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// What a state file belongs to: the import's project and format, and the file's size and a
/// hash of its first MiB, so that a state is never applied to another file of the same name.
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) project: String,
    pub(crate) format: &'static str,
    pub(crate) file: String,
}

impl Identity {
    /// The identity of an import of `input`; a gzip-compressed file is refused.
    pub(crate) fn of(input: &Path, project: String, format: &'static str) -> anyhow::Result<Self> {
        let head = head(input)?;
        anyhow::ensure!(
            !head.starts_with(&[0x1f, 0x8b]),
            "{0} is gzip-compressed: decompress it first: gunzip {0}",
            input.display()
        );
        let size = std::fs::metadata(input)?.len();
        Ok(Self {
            project,
            format,
            file: fingerprint(size, &head),
        })
    }
}

/// The first MiB of `input` (all of it when shorter).
fn head(input: &Path) -> anyhow::Result<Vec<u8>> {
    let mut head = Vec::new();
    std::fs::File::open(input)
        .map_err(|err| anyhow::anyhow!("opening {}: {err}", input.display()))?
        .take(1 << 20)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The file's size and the SHA-256 of its `head`, as text.
fn fingerprint(size: u64, head: &[u8]) -> String {
    let hash: String = Sha256::digest(head)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{size} bytes, first MiB sha256 {hash}")
}

/// The state file of `input`.
pub(crate) fn path_of(input: &Path) -> PathBuf {
    let mut name = input.as_os_str().to_owned();
    name.push(".import-state");
    PathBuf::from(name)
}

/// The state saved for `input`, if an earlier import of the same project, format and file
/// stopped part way; one of another is an error (delete it to start over).
pub(crate) fn load(input: &Path, identity: &Identity) -> anyhow::Result<Saved> {
    let path = path_of(input);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(err) => return Err(err.into()),
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| anyhow::anyhow!("{}: not an import state: {err}", path.display()))?;
    let same = value["project"] == identity.project.as_str() && value["format"] == identity.format;
    anyhow::ensure!(
        same,
        "{} belongs to an import of another project or format; delete it to start over",
        path.display()
    );
    anyhow::ensure!(
        value["file"] == identity.file.as_str(),
        "{} was left by an import of another file (its size or first MiB differ: {} then, {} \
         now); delete it to start over",
        path.display(),
        value["file"],
        identity.file
    );
    Ok(Saved {
        offset: value["offset"].as_u64().unwrap_or(0),
        events: value["events"].as_u64().unwrap_or(0),
        refused: value["refused"].as_u64().unwrap_or(0),
    })
}

/// Writes the state atomically (a new file renamed over the old), so a kill never leaves
/// half of one.
pub(crate) fn save(input: &Path, identity: &Identity, saved: Saved) -> anyhow::Result<()> {
    let path = path_of(input);
    let mut temporary = path.clone().into_os_string();
    temporary.push(".tmp");
    let text = json!({
        "project": identity.project, "format": identity.format, "file": identity.file,
        "offset": saved.offset, "events": saved.events, "refused": saved.refused,
    });
    std::fs::write(&temporary, text.to_string())?;
    std::fs::rename(&temporary, &path)?;
    Ok(())
}

/// The progress line: events a second and how far through the file, by bytes.
#[derive(Debug)]
pub(crate) struct Progress {
    started: Instant,
    shown: Instant,
    total_bytes: u64,
    /// Events acknowledged before this run started (a resumed import).
    before: u64,
}

impl Progress {
    pub(crate) fn new(total_bytes: u64, before: u64) -> Self {
        Self {
            started: Instant::now(),
            shown: Instant::now(),
            total_bytes,
            before,
        }
    }

    /// Events a second of this run.
    pub(crate) fn rate(&self, events: u64) -> f64 {
        (events - self.before) as f64 / self.started.elapsed().as_secs_f64().max(1e-3)
    }

    /// Redraws the line at most twice a second (always when `last`).
    pub(crate) fn show(&mut self, saved: Saved, last: bool) {
        if !last && self.shown.elapsed().as_millis() < 500 {
            return;
        }
        self.shown = Instant::now();
        let percent = saved.offset as f64 * 100.0 / self.total_bytes.max(1) as f64;
        let mut stderr = std::io::stderr();
        let _ = write!(
            stderr,
            "\rimported {} events · {:.0} events/s · {:.1}% ({} of {} bytes){}",
            saved.events,
            self.rate(saved.events),
            percent,
            saved.offset,
            self.total_bytes,
            if last { "\n" } else { "" }
        );
        let _ = stderr.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_read_back_only_for_its_own_project_format_and_file() {
        let dir = std::env::temp_dir().join(format!("import-state-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("dir");
        let input = dir.join("events.jsonl");
        let identity = |format, file: &[u8]| Identity {
            project: "p".to_owned(),
            format,
            file: fingerprint(file.len() as u64, file),
        };
        let posthog = identity("posthog", b"one");
        assert_eq!(load(&input, &posthog).expect("none"), Saved::default());
        let saved = Saved {
            offset: 120,
            events: 3,
            refused: 1,
        };
        save(&input, &posthog, saved).expect("saves");
        assert_eq!(load(&input, &posthog).expect("loads"), saved);
        assert!(load(&input, &identity("segment", b"one")).is_err());
        let other = load(&input, &identity("posthog", b"two")).expect_err("another file");
        assert!(other.to_string().contains("delete it"), "{other}");
        std::fs::write(&input, [0x1f, 0x8b, 8, 0]).expect("writes");
        let gzip = Identity::of(&input, "p".to_owned(), "posthog").expect_err("refused");
        assert!(gzip.to_string().contains("gunzip"), "{gzip}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
