//! The export formats an import reads, and each record's event: JSON lines or CSV rows turned
//! into what [`Mapper`] takes.

use contract::event::Event;
use serde_json::{Map, Value};

use crate::import::mapper::Mapper;
use crate::import::records::{BOM, Record};

/// What wrote an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PostHog's event export: JSON lines, or CSV.
    Posthog,
    /// A Segment or RudderStack archive: JSON lines.
    Segment,
    /// Umami's `website_event` table: CSV.
    Umami,
}

impl Format {
    /// Its name in the API and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Posthog => "posthog",
            Format::Segment => "segment",
            Format::Umami => "umami",
        }
    }

    /// The format named `name`.
    pub fn of(name: &str) -> Option<Self> {
        [Format::Posthog, Format::Segment, Format::Umami]
            .into_iter()
            .find(|format| format.name() == name)
    }

    /// Whether a file of this format that starts with `head` is CSV: Umami's always, PostHog's
    /// when it starts with neither a JSON object nor a JSON array (after a byte order mark).
    pub fn is_csv(self, head: &[u8]) -> bool {
        match self {
            Format::Umami => true,
            Format::Segment => false,
            Format::Posthog => {
                let head = head.strip_prefix(BOM).unwrap_or(head).trim_ascii_start();
                !head.starts_with(b"{") && !head.starts_with(b"[")
            }
        }
    }

    /// The event of one record read by `columns` (a CSV file's header).
    pub fn map(
        self,
        mapper: &mut Mapper,
        columns: &[String],
        record: Record,
    ) -> Result<Event, String> {
        match (self, record) {
            (Format::Posthog, Record::Json(object, raw)) => mapper.posthog(object, &raw),
            (Format::Segment, Record::Json(object, raw)) => mapper.segment(object, &raw),
            (Format::Posthog, Record::Csv(fields, raw)) => {
                mapper.posthog(posthog_csv(columns, &fields), &raw)
            }
            (Format::Umami, Record::Csv(fields, raw)) => {
                let column = |name: &str| {
                    let index = columns.iter().position(|c| c == name)?;
                    fields.get(index).cloned()
                };
                mapper.umami(&column, &raw)
            }
            _ => Err("not a record of this format".to_owned()),
        }
    }
}

/// A row of PostHog's CSV export as the JSON event it stands for: `properties` is JSON text,
/// and flattened `properties.<name>` columns are properties too.
fn posthog_csv(columns: &[String], fields: &[String]) -> Map<String, Value> {
    let mut event = Map::new();
    let mut properties = Map::new();
    for (column, field) in columns.iter().zip(fields) {
        // PostHog's exporter names the columns of a `SELECT *` after its `*` column.
        let column = column.strip_prefix("*.").unwrap_or(column);
        if field.is_empty() {
            continue;
        }
        match column.strip_prefix("properties.") {
            Some(name) => {
                let value = serde_json::from_str(field).unwrap_or(Value::String(field.clone()));
                properties.insert(name.to_owned(), value);
            }
            None if column == "properties" => {
                if let Ok(Value::Object(object)) = serde_json::from_str(field) {
                    properties.extend(object);
                }
            }
            None => {
                event.insert(column.to_owned(), Value::String(field.clone()));
            }
        }
    }
    event.insert("properties".to_owned(), Value::Object(properties));
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn posthog_csv_rows_read_properties_as_json_text_or_flattened_columns() {
        let columns: Vec<String> = [
            "*.uuid",
            "event",
            "distinct_id",
            "timestamp",
            "properties",
            "properties.plan",
            "properties.seats",
        ]
        .map(str::to_owned)
        .to_vec();
        let fields: Vec<String> = [
            "u-1",
            "signed up",
            "p1",
            "2024-01-01 00:00:00",
            "{\"$browser\":\"Firefox\"}",
            "pro",
            "3",
        ]
        .map(str::to_owned)
        .to_vec();
        let event = posthog_csv(&columns, &fields);
        assert_eq!(event["uuid"], "u-1");
        assert_eq!(event["event"], "signed up");
        assert_eq!(
            event["properties"],
            serde_json::json!({"$browser": "Firefox", "plan": "pro", "seats": 3})
        );
        let mut mapper = Mapper::new(Uuid::now_v7());
        let mapped = mapper.posthog(event, b"row").expect("maps");
        assert_eq!(mapped.distinct_id, "p1");
    }

    #[test]
    fn a_posthog_export_is_csv_unless_it_starts_with_an_object_or_an_array() {
        assert!(!Format::Posthog.is_csv(b"\n {\"event\":1}"));
        assert!(Format::Posthog.is_csv(b"uuid,event\n"));
        assert!(!Format::Posthog.is_csv(b"[{\"event\":1}]"), "a JSON array");
        assert!(
            !Format::Posthog.is_csv(b"\xEF\xBB\xBF{\"event\":1}"),
            "after a BOM"
        );
        assert!(Format::Posthog.is_csv(b"\xEF\xBB\xBFuuid,event\n"));
        assert!(Format::Umami.is_csv(b"{"));
        assert_eq!(Format::of("segment"), Some(Format::Segment));
        assert_eq!(Format::of("plausible"), None);
    }
}
