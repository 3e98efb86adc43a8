//! Current ClickHouse, in-process (`chdb-core` from pip), driven through a Python child: one
//! SQL statement per line in, one JSON answer per line out. Tests run the same statements here
//! and on the ClickHouse 18.16 server, so every template is known to work on both.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::Context as _;

use crate::install::{Need, ensure};
use crate::test::TempDir;

/// Reads statements (JSON strings, one per line), answers `{"ok": <TSV>}` or `{"error": …}`.
const DRIVER: &str = r#"
import json, sys
from chdb import session
s = session.Session(sys.argv[1])
for line in sys.stdin:
    try:
        out = {"ok": s.query(json.loads(line), "TSV").bytes().decode("utf-8", "replace")}
    except Exception as e:
        out = {"error": str(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"#;

/// A chdb session in a temporary folder; the child ends when this is dropped.
#[derive(Debug)]
pub struct Chdb {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    _dir: TempDir,
}

impl Chdb {
    pub fn start() -> anyhow::Result<Self> {
        let python = ensure(&[Need::Chdb])?
            .chdb_python
            .context("chdb-core is not installed")?;
        let dir = TempDir::new("chdb")?;
        let mut child = Command::new(python)
            .arg("-u")
            .arg("-c")
            .arg(DRIVER)
            .arg(dir.path().join("session"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the chdb driver")?;
        let input = child.stdin.take().context("chdb stdin")?;
        let output = BufReader::new(child.stdout.take().context("chdb stdout")?);
        Ok(Self {
            child,
            input,
            output,
            _dir: dir,
        })
    }

    /// The TSV answer of `sql`, or ClickHouse's error.
    pub fn query(&mut self, sql: &str) -> anyhow::Result<String> {
        writeln!(self.input, "{}", serde_json::to_string(sql)?)?;
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .context("reading the chdb answer")?;
        let answer: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("chdb answered {line:?}"))?;
        match (answer["ok"].as_str(), answer["error"].as_str()) {
            (Some(tsv), _) => Ok(tsv.to_owned()),
            (_, Some(error)) => anyhow::bail!("chdb: {error}"),
            _ => anyhow::bail!("chdb answered {line:?}"),
        }
    }
}

impl Drop for Chdb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
