//! Which rows of a batch may already be in the table, and taking those that are out of it
//! before the insert. Only those rows are looked up (by project, day, event name and event
//! id): a row that is certainly a first delivery costs no lookup, whatever else its batch
//! holds.

use std::collections::HashSet;

use async_nats::jetstream::Message;
use uuid::Uuid;

use crate::metrics::SinkCounters;
use crate::row::EventRow;
use crate::table::already_stored;

/// The rows of (part of) a batch that may already be stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Uncertain<'a> {
    /// Every row: an earlier insert of them failed with an unknown outcome, so any may have
    /// been written.
    All,
    /// The rows with these event ids: late, imported or redelivered ([`crate::batch::Batch`]).
    /// None when empty, the live steady state.
    Only(&'a HashSet<Uuid>),
}

impl Uncertain<'_> {
    fn covers(self, row: &EventRow) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.contains(&row.event_id),
        }
    }
}

/// Looks up the rows `uncertain` covers, takes those the table already holds out of `rows`
/// (and their messages out of `messages`), and returns those messages, to be acked unwritten.
pub(crate) async fn take_stored(
    clickhouse: &clickhouse::Client,
    counters: &SinkCounters,
    rows: &mut Vec<EventRow>,
    messages: &mut Vec<Message>,
    uncertain: Uncertain<'_>,
) -> Result<Vec<Message>, clickhouse::error::Error> {
    if matches!(uncertain, Uncertain::Only(ids) if ids.is_empty()) {
        return Ok(Vec::new());
    }
    let unsure: Vec<&EventRow> = rows.iter().filter(|row| uncertain.covers(row)).collect();
    if unsure.is_empty() {
        return Ok(Vec::new());
    }
    counters.rows_looked_up.inc_by(unsure.len() as u64);
    let stored = already_stored(clickhouse, &unsure).await?;
    if stored.is_empty() {
        return Ok(Vec::new());
    }
    Ok(take_out(rows, messages, |row| {
        stored.contains(&row.event_id)
    }))
}

/// Takes the rows for which `is_copy` holds out of the batch, and returns their messages (to
/// be acked without a write).
pub(crate) fn take_out(
    rows: &mut Vec<EventRow>,
    messages: &mut Vec<Message>,
    mut is_copy: impl FnMut(&EventRow) -> bool,
) -> Vec<Message> {
    let mut kept = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    let mut copies = Vec::new();
    for (row, message) in rows.drain(..).zip(messages.drain(..)) {
        if is_copy(&row) {
            copies.push(message);
        } else {
            kept.0.push(row);
            kept.1.push(message);
        }
    }
    (*rows, *messages) = kept;
    copies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: Uuid) -> EventRow {
        let event: contract::event::Event = serde_json::from_value(serde_json::json!({
            "event_id": id, "project_id": Uuid::nil(), "kind": "track", "event": "e",
            "distinct_id": "u", "timestamp": "2026-12-01T00:00:00Z",
            "received_at": "2026-12-01T00:00:00Z",
        }))
        .expect("an event");
        EventRow::new(event, 1)
    }

    #[test]
    fn only_the_uncertain_rows_are_covered_unless_all_are() {
        let (late, live) = (row(Uuid::now_v7()), row(Uuid::now_v7()));
        let none = HashSet::new();
        let one = HashSet::from([late.event_id]);
        assert!(!Uncertain::Only(&none).covers(&late));
        assert!(Uncertain::Only(&one).covers(&late));
        assert!(!Uncertain::Only(&one).covers(&live));
        assert!(Uncertain::All.covers(&live));
    }
}
