//! The records of an export file, each with the byte offset just past it (where a resumed
//! import starts again): JSON lines, a JSON array of objects (read element by element, never
//! whole), or CSV records (RFC 4180: quoted fields may hold commas, doubled quotes and line
//! breaks) named by the header row. A leading UTF-8 byte order mark is skipped. A record over
//! 1 MiB is skipped to the next line (the next element of an array) and refused. A file or an
//! object-store stream: it is read once, front to back, and a resumed import skips to its offset.

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, BufReader};

use serde_json::{Map, Value};

use crate::import::json_array::Scan;

/// The longest record read: the EVENTS stream's largest message.
pub const MAX_RECORD: usize = 1 << 20;
/// The UTF-8 byte order mark some tools write first.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

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

/// How the file holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Lines,
    Csv,
    /// A JSON array; `true` once its closing `]` was read.
    Array(bool),
}

/// Reads an export from a byte offset on.
#[derive(Debug)]
pub struct Records<R> {
    reader: BufReader<R>,
    layout: Layout,
    /// The CSV header's column names.
    pub columns: Vec<String>,
    /// Where the next record starts.
    pub offset: u64,
    /// The line the next record starts on (1: the first).
    line: u64,
    /// The line the last record read started on.
    pub record_line: u64,
}

/// Why a record over [`MAX_RECORD`] is refused.
const OVER: &str = "the record is over 1 MiB: skipped";

impl<R: AsyncRead + Unpin> Records<R> {
    /// Reads `file` from `offset` (0: the start); a CSV file's header is read first wherever
    /// the records start (a JSON file's opening `[`, if it is an array), then the bytes up to
    /// `offset` are read past (counting lines).
    pub async fn open(file: R, csv: bool, offset: u64) -> anyhow::Result<Self> {
        let mut records = Self {
            reader: BufReader::with_capacity(1 << 20, file),
            layout: if csv { Layout::Csv } else { Layout::Lines },
            columns: Vec::new(),
            offset: 0,
            line: 1,
            record_line: 1,
        };
        if records.reader.fill_buf().await?.starts_with(BOM) {
            records.advance(BOM.len());
        }
        if csv {
            records.columns = match records.read_csv().await? {
                Some(Ok((fields, _))) => fields.into_iter().map(|f| f.trim().to_owned()).collect(),
                Some(Err(_)) => {
                    return Err(Unreadable("the CSV header is over 1 MiB".to_owned()).into());
                }
                None => return Err(Unreadable("the CSV file has no header row".to_owned()).into()),
            };
        } else if records.skip_while(|b| b.is_ascii_whitespace()).await? == Some(b'[') {
            records.advance(1);
            records.layout = Layout::Array(false);
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
            records.advance(take);
        }
        Ok(records)
    }

    /// Reads past the next `n` buffered bytes, counting them and their lines.
    fn advance(&mut self, n: usize) {
        let buffer = self.reader.buffer();
        let n = n.min(buffer.len());
        self.line += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.reader.consume(n);
        self.offset += n as u64;
    }

    /// Reads past bytes while `skip` holds; the first byte it does not (`None`: the end).
    async fn skip_while(&mut self, skip: impl Fn(u8) -> bool) -> std::io::Result<Option<u8>> {
        loop {
            let buffer = self.reader.fill_buf().await?;
            if buffer.is_empty() {
                return Ok(None);
            }
            match buffer.iter().position(|b| !skip(*b)) {
                Some(at) => {
                    let byte = buffer[at];
                    self.advance(at);
                    return Ok(Some(byte));
                }
                None => {
                    let all = buffer.len();
                    self.advance(all);
                }
            }
        }
    }

    /// Reads past the rest of the current line (its line break too).
    async fn skip_line(&mut self) -> std::io::Result<()> {
        loop {
            let buffer = self.reader.fill_buf().await?;
            if buffer.is_empty() {
                return Ok(());
            }
            match buffer.iter().position(|b| *b == b'\n') {
                Some(at) => {
                    self.advance(at + 1);
                    return Ok(());
                }
                None => {
                    let all = buffer.len();
                    self.advance(all);
                }
            }
        }
    }

    /// The next record, `None` at the end of the file; an unreadable one is an `Err` with the
    /// reason, after which reading goes on.
    pub async fn next_record(&mut self) -> anyhow::Result<Option<Result<Record, String>>> {
        match self.layout {
            Layout::Csv => Ok(self
                .read_csv()
                .await?
                .map(|record| record.map(|(fields, raw)| Record::Csv(fields, raw)))),
            Layout::Array(true) => Ok(None),
            Layout::Array(false) => {
                Ok(self.read_element().await?.map(|text| text.and_then(object)))
            }
            Layout::Lines => self.read_json_line().await,
        }
    }

    /// The next JSON line's record, skipping blank lines.
    async fn read_json_line(&mut self) -> anyhow::Result<Option<Result<Record, String>>> {
        loop {
            let mut line = Vec::new();
            self.record_line = self.line;
            let read = self.read_line(&mut line).await?;
            if read == 0 {
                return Ok(None);
            }
            self.offset += read as u64;
            self.line += 1;
            if line.len() > MAX_RECORD {
                if !line.ends_with(b"\n") {
                    self.skip_line().await?;
                    // `skip_line` counted the line break the line ends with.
                    self.line -= 1;
                }
                return Ok(Some(Err(OVER.to_owned())));
            }
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            return Ok(Some(object(text.to_vec())));
        }
    }

    /// The next element of a JSON array, as its text; `None` past its last.
    async fn read_element(&mut self) -> anyhow::Result<Option<Result<Vec<u8>, String>>> {
        let next = self
            .skip_while(|b| b.is_ascii_whitespace() || b == b',')
            .await?;
        match next {
            None => return Ok(None),
            Some(b']') => {
                self.advance(1);
                self.layout = Layout::Array(true);
                return Ok(None);
            }
            Some(_) => {}
        }
        self.record_line = self.line;
        let (mut scan, mut text, mut over) = (Scan::default(), Vec::new(), false);
        loop {
            let buffer = self.reader.fill_buf().await?;
            if buffer.is_empty() {
                break;
            }
            let (take, ends) = match scan.feed(buffer) {
                Some(end) => (end, true),
                None => (buffer.len(), false),
            };
            if text.len() + take > MAX_RECORD {
                over = true;
                text = Vec::new();
            }
            if !over {
                text.extend_from_slice(&buffer[..take]);
            }
            self.advance(take);
            if ends {
                break;
            }
        }
        Ok(Some(if over { Err(OVER.to_owned()) } else { Ok(text) }))
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

    /// The next CSV record's fields and text, skipping empty lines; one over 1 MiB is skipped
    /// to the end of the line it reached (an unclosed quote ends there) and refused.
    async fn read_csv(&mut self) -> anyhow::Result<Option<Result<(Vec<String>, Vec<u8>), String>>> {
        let mut raw = Vec::new();
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
                if !raw.ends_with(b"\n") {
                    self.skip_line().await?;
                }
                return Ok(Some(Err(OVER.to_owned())));
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
                self.record_line = self.line;
                continue;
            }
            let text = String::from_utf8_lossy(&raw).into_owned();
            let fields = split_csv(text.trim_end_matches(['\r', '\n']));
            return Ok(Some(Ok((fields, raw))));
        }
    }
}

/// The record of one JSON text: an object, else why not.
fn object(text: Vec<u8>) -> Result<Record, String> {
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(object)) => Ok(Record::Json(object, text)),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(err) => Err(format!("not JSON: {err}")),
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

    /// The JSON records of `text` read as JSON (lines or an array): for each, its object's
    /// `n` or the refusal, and the offset after it.
    fn json(text: &[u8], offset: u64) -> Vec<(Result<i64, String>, u64)> {
        let mut records =
            block_on(Records::open(Cursor::new(text.to_vec()), false, offset)).expect("opens");
        let mut out = Vec::new();
        while let Some(record) = block_on(records.next_record()).expect("reads") {
            let n = record.map(|record| match record {
                Record::Json(object, _) => object["n"].as_i64().unwrap_or(-1),
                Record::Csv(..) => -2,
            });
            out.push((n, records.offset));
        }
        out
    }

    #[test]
    fn records_over_a_mebibyte_are_refused_and_skipped_to_the_next() {
        let mut text = b"{\"n\":1}\n[".to_vec();
        text.extend(std::iter::repeat_n(b'1', MAX_RECORD + 10));
        text.extend(b"]\n{\"n\":3}\n");
        let read = json(&text, 0);
        assert_eq!(read.len(), 3, "{read:?}");
        assert_eq!(read[0].0, Ok(1));
        assert!(read[1].0.as_ref().is_err_and(|err| err.contains("1 MiB")));
        assert_eq!(read[2], (Ok(3), text.len() as u64));
        // Resumed after the long one, the import goes on.
        assert_eq!(json(&text, read[1].1), [(Ok(3), text.len() as u64)]);

        let mut text = b"a,b\n1,2\n3,\"unclosed\n".to_vec();
        for _ in 0..(MAX_RECORD / 10) {
            text.extend(b"4,5,6,7,8\n");
        }
        text.extend(b"9,10\n");
        let mut records = block_on(Records::open(Cursor::new(text), true, 0)).expect("opens");
        let mut kinds = Vec::new();
        while let Some(record) = block_on(records.next_record()).expect("reads") {
            kinds.push(record.is_ok());
        }
        assert_eq!(kinds.first(), Some(&true));
        assert_eq!(
            kinds.get(1),
            Some(&false),
            "the record over 1 MiB is refused"
        );
        assert_eq!(kinds.last(), Some(&true), "and reading goes on");
    }

    #[test]
    fn a_json_array_is_read_element_by_element_and_a_bom_is_skipped() {
        let text = b"\xEF\xBB\xBF [\n {\"n\": 1},\n {\"n\": 2, \"s\": \"a ] , }\"},\n 7,\n {\"n\": 4}\n]\n";
        let read = json(text, 0);
        let values: Vec<_> = read.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(
            values,
            [Ok(1), Ok(2), Err("not a JSON object".to_owned()), Ok(4)]
        );
        // Resumed after the second element.
        let resumed: Vec<_> = json(text, read[1].1).into_iter().map(|(n, _)| n).collect();
        assert_eq!(resumed, [Err("not a JSON object".to_owned()), Ok(4)]);
        // JSON lines after a BOM, and a CSV header after one.
        assert_eq!(json(b"\xEF\xBB\xBF{\"n\":5}\n", 0)[0].0, Ok(5));
        let records = block_on(Records::open(
            Cursor::new(b"\xEF\xBB\xBFa,b\n1,2\n".to_vec()),
            true,
            0,
        ))
        .expect("opens");
        assert_eq!(records.columns, ["a", "b"]);
    }
}
