//! Answers as CSV: `format=csv` on any analysis gives the same answer as a `text/csv` table
//! (RFC 4180: comma-separated, CRLF line ends, a field quoted when it holds a comma, a quote or
//! a line break), one row per value, point, step or cohort, with a header. A text field that a
//! spreadsheet would run as a formula (its first character `=`, `+`, `-`, `@`, a tab or a
//! carriage return) is prefixed with `'`, as OWASP advises for CSV injection: event names,
//! paths and properties come from anyone who can send events. Numbers are written as they are.

pub(crate) mod tables;

use std::borrow::Cow;

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `format`, checked: JSON (the default) or CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Csv,
}

impl Format {
    /// The `format` parameter: empty or `json`, or `csv`.
    pub(crate) fn parse(text: Option<&str>) -> Result<Self, crate::error::Error> {
        match text {
            None | Some("" | "json") => Ok(Self::Json),
            Some("csv") => Ok(Self::Csv),
            Some(_) => Err(crate::error::Error::Invalid(
                "format must be json or csv".to_owned(),
            )),
        }
    }
}

/// A table being written.
#[derive(Debug)]
pub(crate) struct Csv {
    text: String,
}

impl Csv {
    /// A table with these column names.
    pub(crate) fn new(header: &[&str]) -> Self {
        let mut csv = Self {
            text: String::new(),
        };
        csv.row(header.iter().map(|name| text(name)));
        csv
    }

    /// A row of fields, each made by [`text`] or [`number`].
    pub(crate) fn row<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.text.push_str(&line(fields));
    }

    /// The table as a `text/csv` download named `name`.csv.
    pub(crate) fn into_response(self, name: &str) -> Response {
        response(name, self.text)
    }
}

/// One line of `fields`, with its CRLF.
pub(crate) fn line<I, S>(fields: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut line = String::new();
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push_str(field.as_ref());
    }
    line.push_str("\r\n");
    line
}

/// The headers of a CSV download named `name`.csv, and `body`.
pub(crate) fn response(name: &str, body: impl Into<axum::body::Body>) -> Response {
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.csv\""),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// A text field: kept from running as a formula, then quoted if it must be.
pub(crate) fn text(value: &str) -> Cow<'_, str> {
    let guarded: Cow<'_, str> = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

/// A number field, as JSON writes it.
pub(crate) fn number(value: impl Into<serde_json::Number>) -> String {
    value.into().to_string()
}

/// A fraction field (a share, a rate), as JSON writes it; empty when not finite.
pub(crate) fn fraction(value: f64) -> String {
    serde_json::Number::from_f64(value).map_or_else(String::new, |number| number.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_they_must_be_and_never_run_as_formulas() {
        assert_eq!(text("/pricing"), "/pricing");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("two\nlines"), "\"two\nlines\"");
        assert_eq!(text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text("-2+3"), "'-2+3");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(number(-3_i64), "-3");
        assert_eq!(fraction(0.25), "0.25");
        assert_eq!(fraction(f64::NAN), "");
        let mut csv = Csv::new(&["value", "count"]);
        csv.row([text("/a,b").into_owned(), number(2_u64)]);
        assert_eq!(csv.text, "value,count\r\n\"/a,b\",2\r\n");
    }

    #[test]
    fn only_json_and_csv_are_formats() {
        assert_eq!(Format::parse(None).ok(), Some(Format::Json));
        assert_eq!(Format::parse(Some("")).ok(), Some(Format::Json));
        assert_eq!(Format::parse(Some("csv")).ok(), Some(Format::Csv));
        assert!(Format::parse(Some("xml")).is_err());
    }
}
