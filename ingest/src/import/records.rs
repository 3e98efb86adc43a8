//! The records of an export file, each with the byte offset just past it (where a resumed
//! import starts again): JSON lines, or CSV records (RFC 4180: quoted fields may hold commas,
//! doubled quotes and line breaks) named by the header row. A file or an object-store stream:
//! it is read once, front to back, and a resumed import skips to its offset.

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, BufReader};

use serde_json::{Map, Value};

/// The longest record read: the EVENTS stream's largest message.
pub const MAX_RECORD: usize = 1 << 20;

/// A file that cannot be read as its format says (no CSV header, shorter than the offset an
/// import resumes at): reading it again would fail the same way, unlike a failed read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// One record of the file.
#[derive(Debug)]
pub enum Record {
    /// A JSON object, with its text.
    Json(Map<String, Value>, Vec<u8>),
    /// A CSV row, its fields in the header's order, with its text.
    Csv(Vec<String>, Vec<u8>),
}

/// Reads an export from a byte offset on.
#[derive(Debug)]
pub struct Records<R> {
    reader: BufReader<R>,
    csv: bool,
    /// The CSV header's column names.
    pub columns: Vec<String>,
    /// Where the next record starts.
    pub offset: u64,
    /// The line the next record starts on (1: the first).
    line: u64,
    /// The line the last record read started on.
    pub record_line: u64,
}

impl<R: AsyncRead + Unpin> Records<R> {
    /// Reads `file` from `offset` (0: the start); a CSV file's header is read first wherever
    /// the records start, then the bytes up to `offset` are read past (counting lines).
    pub async fn open(file: R, csv: bool, offset: u64) -> anyhow::Result<Self> {
        let mut records = Self {
            reader: BufReader::with_capacity(1 << 20, file),
            csv,
            columns: Vec::new(),
            offset: 0,
            line: 1,
            record_line: 1,
        };
        if csv {
            let header = records.read_csv().await?;
            records.columns = match header {
                Some((fields, _)) => fields.into_iter().map(|f| f.trim().to_owned()).collect(),
                None => return Err(Unreadable("the CSV file has no header row".to_owned()).into()),
            };
        }
        while records.offset < offset {
            let buffer = records.reader.fill_buf().await?;
            if buffer.is_empty() {
                let stop = format!("the file ends before byte {offset}, where the import stopped");
                return Err(Unreadable(stop).into());
            }
            let take = buffer
                .len()
                .min(usize::try_from(offset - records.offset).unwrap_or(usize::MAX));
            records.line += buffer[..take].iter().filter(|b| **b == b'\n').count() as u64;
            records.reader.consume(take);
            records.offset += take as u64;
        }
        Ok(records)
    }

    /// The next record, `None` at the end of the file; an unreadable one is an `Err` with the
    /// reason, after which reading goes on.
    pub async fn next_record(&mut self) -> anyhow::Result<Option<Result<Record, String>>> {
        if self.csv {
            return Ok(self
                .read_csv()
                .await?
                .map(|(fields, raw)| Ok(Record::Csv(fields, raw))));
        }
        loop {
            let mut line = Vec::new();
            let start = self.offset;
            self.record_line = self.line;
            let read = self.read_line(&mut line).await?;
            if read == 0 {
                return Ok(None);
            }
            self.offset += read as u64;
            self.line += 1;
            if line.len() > MAX_RECORD {
                let array = line.trim_ascii_start().starts_with(b"[");
                let hint = if array {
                    "not JSON lines: one event per line, not a JSON array"
                } else {
                    "over 1 MiB"
                };
                return Err(Unreadable(format!("the line at byte {start} is {hint}")).into());
            }
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let text = text.to_vec();
            return Ok(Some(match serde_json::from_slice::<Value>(&text) {
                Ok(Value::Object(object)) => Ok(Record::Json(object, text)),
                Ok(_) => Err("not a JSON object".to_owned()),
                Err(err) => Err(format!("not JSON: {err}")),
            }));
        }
    }

    /// Appends the next line to `line`, reading no further than just past `MAX_RECORD` bytes
    /// of it; the count of bytes read.
    async fn read_line(&mut self, line: &mut Vec<u8>) -> std::io::Result<usize> {
        let limit = (MAX_RECORD + 1).saturating_sub(line.len()) as u64;
        (&mut self.reader)
            .take(limit.max(1))
            .read_until(b'\n', line)
            .await
    }

    /// The next CSV record's fields and text, skipping empty lines.
    async fn read_csv(&mut self) -> anyhow::Result<Option<(Vec<String>, Vec<u8>)>> {
        let mut raw = Vec::new();
        let mut start = self.offset;
        self.record_line = self.line;
        let mut quotes = 0;
        loop {
            let before = raw.len();
            let read = self.read_line(&mut raw).await?;
            self.offset += read as u64;
            if raw[before..].ends_with(b"\n") {
                self.line += 1;
            }
            if raw.len() > MAX_RECORD {
                let hint =
                    format!("the CSV record at byte {start} is over 1 MiB (an unclosed quote?)");
                return Err(Unreadable(hint).into());
            }
            if read == 0 && raw.trim_ascii().is_empty() {
                return Ok(None);
            }
            // A record ends at a line break outside quotes: an even count of quotes so far,
            // counted in what each line adds.
            quotes += raw[before..].iter().filter(|b| **b == b'"').count();
            if quotes % 2 == 1 && read > 0 {
                continue;
            }
            if raw.trim_ascii().is_empty() {
                raw.clear();
                start = self.offset;
                self.record_line = self.line;
                continue;
            }
            let text = String::from_utf8_lossy(&raw).into_owned();
            let fields = split_csv(text.trim_end_matches(['\r', '\n']));
            return Ok(Some((fields, raw)));
        }
    }
}

/// The fields of one CSV record.
fn split_csv(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Writes `fields` as one CSV record.
#[cfg(test)]
fn csv_line(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|field| {
            if field.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                (*field).to_owned()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// Runs a reading future to its end: a cursor never waits.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    fn all(records: &mut Records<Cursor<Vec<u8>>>) -> Vec<(Vec<String>, u64)> {
        let mut out = Vec::new();
        while let Some(record) = block_on(records.next_record()).expect("reads") {
            if let Ok(Record::Csv(fields, _)) = record {
                out.push((fields, records.offset));
            }
        }
        out
    }

    #[test]
    fn csv_records_may_hold_quotes_commas_and_line_breaks() {
        let text = format!(
            "a,b\n{}{}",
            csv_line(&["1", "say \"hi\", then\nleave"]),
            csv_line(&["2", ""])
        );
        let mut records = block_on(Records::open(
            Cursor::new(text.clone().into_bytes()),
            true,
            0,
        ))
        .expect("opens");
        assert_eq!(records.columns, ["a", "b"]);
        let read = all(&mut records);
        assert_eq!(read[0].0, ["1", "say \"hi\", then\nleave"]);
        assert_eq!(read[1].0, ["2", ""]);
        assert_eq!(read[1].1, text.len() as u64);
        // Resumed after the first record: the header is still known.
        let mut resumed = block_on(Records::open(
            Cursor::new(text.into_bytes()),
            true,
            read[0].1,
        ))
        .expect("opens");
        assert_eq!(resumed.columns, ["a", "b"]);
        assert_eq!(all(&mut resumed).len(), 1);
    }

    #[test]
    fn json_lines_skip_blank_lines_and_name_bad_ones() {
        let text = b"{\"a\":1}\n\n[1]\n{\"b\":2}".to_vec();
        let mut records = block_on(Records::open(Cursor::new(text), false, 0)).expect("opens");
        let mut kinds = Vec::new();
        while let Some(record) = block_on(records.next_record()).expect("reads") {
            kinds.push(record.is_ok());
        }
        assert_eq!(kinds, [true, false, true]);
    }

    #[test]
    fn records_over_a_mebibyte_fail_with_their_offset() {
        let mut text = b"{\"a\":1}\n[".to_vec();
        text.extend(std::iter::repeat_n(b'1', MAX_RECORD + 10));
        let mut records = block_on(Records::open(Cursor::new(text), false, 0)).expect("opens");
        assert!(block_on(records.next_record()).expect("reads").is_some());
        let err = block_on(records.next_record())
            .expect_err("too long")
            .to_string();
        assert!(
            err.contains("byte 8") && err.contains("JSON lines"),
            "{err}"
        );
        let mut text = b"a,b\n1,2\n3,\"unclosed\n".to_vec();
        for _ in 0..(MAX_RECORD / 10) {
            text.extend(b"4,5,6,7,8\n");
        }
        let mut records = block_on(Records::open(Cursor::new(text), true, 0)).expect("opens");
        assert!(block_on(records.next_record()).expect("reads").is_some());
        let err = block_on(records.next_record())
            .expect_err("too long")
            .to_string();
        assert!(err.contains("byte 8") && err.contains("unclosed"), "{err}");
    }
}
