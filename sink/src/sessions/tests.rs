//! Which persons [`Sessions`] looks up: those with a row that may already be stored, not the
//! remembered persons beside them in the batch.

use super::*;

const PROJECT: Uuid = Uuid::nil();

fn row(distinct_id: &str, at: &str) -> EventRow {
    let event: contract::event::Event = serde_json::from_value(serde_json::json!({
        "event_id": Uuid::now_v7(), "project_id": PROJECT, "kind": "track", "event": "e",
        "distinct_id": distinct_id, "timestamp": at, "received_at": at,
    }))
    .expect("an event");
    EventRow::new(event, 1)
}

fn person(key: &str) -> Person {
    Person {
        project: PROJECT,
        key: key.to_owned(),
    }
}

/// Sessions that remember `keys`, each with an event at 10:00 in session `s-<key>`.
fn remembering(keys: &[&str]) -> Sessions {
    let mut sessions = Sessions::default();
    let at = row("x", "2026-12-01T10:00:00Z").timestamp;
    for key in keys {
        let last = Last {
            at,
            event_id: Uuid::now_v7(),
            session: format!("s-{key}"),
        };
        sessions.known.remember(person(key), last);
    }
    sessions
}

#[test]
fn only_the_persons_of_uncertain_rows_are_looked_up_among_remembered_ones() {
    let mut sessions = remembering(&["a", "b", "c"]);
    let mut rows = vec![
        row("a", "2026-12-01T10:05:00Z"),
        row("b", "2026-12-01T10:05:00Z"),
        row("b", "2026-12-01T10:06:00Z"),
        row("c", "2026-12-01T10:07:00Z"),
    ];
    let late = rows[1].event_id;
    let keys = own_keys(&rows);
    let unsure = sessions.settle_remembered(&mut rows, keys, |row| row.event_id == late);

    let looked_up: Vec<(&str, &[usize])> = unsure
        .iter()
        .map(|(person, indices)| (person.key.as_str(), indices.as_slice()))
        .collect();
    assert_eq!(looked_up, [("b", &[1, 2][..])], "b's rows, all of them");
    assert_eq!(rows[0].session_id, "s-a", "a continues from memory");
    assert_eq!(rows[3].session_id, "s-c", "c continues from memory");
    assert!(rows[1].session_id.is_empty() && rows[2].session_id.is_empty());
}

#[test]
fn the_other_rules_still_look_up_without_uncertain_rows() {
    let mut sessions = remembering(&["a", "b"]);
    let mut rows = vec![
        row("a", "2026-12-01T09:59:00Z"),
        row("b", "2026-12-01T11:00:00Z"),
        row("new", "2026-12-01T10:00:00Z"),
    ];
    let keys = own_keys(&rows);
    let unsure = sessions.settle_remembered(&mut rows, keys, |_| false);

    let mut looked_up: Vec<&str> = unsure.iter().map(|(p, _)| p.key.as_str()).collect();
    looked_up.sort_unstable();
    assert_eq!(
        looked_up,
        ["a", "b", "new"],
        "a late event, a session start and a person not remembered"
    );
}

#[test]
fn every_person_is_looked_up_when_every_row_is_uncertain() {
    let mut sessions = remembering(&["a", "b"]);
    let mut rows = vec![
        row("a", "2026-12-01T10:05:00Z"),
        row("b", "2026-12-01T10:05:00Z"),
    ];
    let keys = own_keys(&rows);
    assert_eq!(
        sessions.settle_remembered(&mut rows, keys, |_| true).len(),
        2
    );
}
