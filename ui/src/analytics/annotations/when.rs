//! When a note is: its instant as the browser's wall clock shows it (the form's inputs and the
//! list's dates), and the bucket of the trends chart it falls in. Other lists of the app (API
//! keys, a project's history) date their rows on the same clock.

use contract::auth::AnnotationView;

use super::super::charts::bucket_label;
use super::super::dates::{from_wall_clock, rfc3339, unix_seconds, wall_clock};

/// Minutes the browser's clock is ahead of UTC at the instant `unix` (0 outside a browser).
fn browser_offset_minutes(unix: i64) -> i64 {
    if !cfg!(target_arch = "wasm32") {
        return 0;
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix as f64 * 1000.0));
    -(date.get_timezone_offset() as i64)
}

/// Now, in seconds since the epoch (a fixed instant outside a browser).
pub(crate) fn now() -> i64 {
    if cfg!(target_arch = "wasm32") {
        (js_sys::Date::now() / 1000.0).floor() as i64
    } else {
        1_767_268_800 // 2026-01-01T12:00:00Z
    }
}

/// The instant `unix` as a `datetime-local` input's value on the browser's clock.
pub(crate) fn input_value(unix: i64) -> String {
    wall_clock(unix, browser_offset_minutes(unix))
}

/// The instant a `datetime-local` input's value stands for on the browser's clock, as RFC 3339
/// in UTC; `None` for no valid date and time.
pub(crate) fn from_input(value: &str) -> Option<String> {
    // The offset of the instant itself, which summer time may make differ from now's: the
    // offset at the value read as UTC is right but for the hours around a change, where a
    // second look settles it.
    let guess = from_wall_clock(value, 0)?;
    let first = from_wall_clock(value, browser_offset_minutes(guess))?;
    let unix = from_wall_clock(value, browser_offset_minutes(first))?;
    Some(rfc3339(unix))
}

/// An instant on the browser's clock, to the minute: `2026-11-30 14:05`.
pub(crate) fn instant_label(unix: i64) -> String {
    input_value(unix).replacen('T', " ", 1)
}

/// How the list dates a note: `Nov 4, 12:00` on the browser's clock.
pub(crate) fn label(unix: i64) -> String {
    bucket_label(&input_value(unix), "hour")
}

/// The notes falling in each bucket of a chart whose buckets start at `starts` (RFC 3339) and
/// whose range ends (exclusive) at `end`: `(bucket, notes)` for the buckets holding any, in
/// order, each bucket's notes oldest first. Notes before the first bucket or from `end` on are
/// left out.
pub(crate) fn by_bucket<'a>(
    starts: &[&str],
    end: &str,
    notes: &'a [AnnotationView],
) -> Vec<(usize, Vec<&'a AnnotationView>)> {
    let starts: Vec<i64> = starts.iter().filter_map(|t| unix_seconds(t)).collect();
    let (Some(&first), Some(end)) = (starts.first(), unix_seconds(end)) else {
        return Vec::new();
    };
    let mut sorted: Vec<&AnnotationView> = notes.iter().collect();
    sorted.sort_by_key(|note| note.at.unix_timestamp());
    let mut groups: Vec<(usize, Vec<&AnnotationView>)> = Vec::new();
    for note in sorted {
        let at = note.at.unix_timestamp();
        if at < first || at >= end {
            continue;
        }
        let bucket = starts.partition_point(|&start| start <= at) - 1;
        match groups.last_mut() {
            Some((last, group)) if *last == bucket => group.push(note),
            _ => groups.push((bucket, vec![note])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(n: u128, at: &str) -> AnnotationView {
        let note = serde_json::json!({
            "id": uuid::Uuid::from_u128(n),
            "project_id": uuid::Uuid::from_u128(1),
            "at": at,
            "content": format!("note {n}"),
            "created_by": "ada@example.com",
            "updated_at": at,
        });
        serde_json::from_value(note).expect("a note")
    }

    #[test]
    fn notes_fall_in_the_bucket_their_instant_is_in() {
        let starts = [
            "2026-11-02T00:00:00+01:00",
            "2026-11-03T00:00:00+01:00",
            "2026-11-04T00:00:00+01:00",
        ];
        let end = "2026-11-04T23:00:00Z";
        let notes = [
            note(1, "2026-11-03T22:59:59Z"),
            note(2, "2026-11-02T12:00:00Z"),
            note(3, "2026-11-01T22:59:59Z"),
            note(4, "2026-11-03T23:00:00Z"),
            note(5, "2026-11-02T23:30:00Z"),
            note(6, "2026-11-04T23:00:00Z"),
        ];
        let groups: Vec<(usize, Vec<u128>)> = by_bucket(&starts, end, &notes)
            .into_iter()
            .map(|(i, group)| (i, group.iter().map(|n| n.id.as_u128()).collect()))
            .collect();
        assert_eq!(groups, [(0, vec![2]), (1, vec![5, 1]), (2, vec![4])]);
        assert!(by_bucket(&[], end, &notes).is_empty());
    }

    #[test]
    fn inputs_show_and_read_the_wall_clock() {
        // Outside a browser the clock is UTC's.
        assert_eq!(input_value(1_793_793_600), "2026-11-04T12:00");
        assert_eq!(
            from_input("2026-11-04T12:00").as_deref(),
            Some("2026-11-04T12:00:00Z")
        );
        assert_eq!(from_input(""), None);
        assert_eq!(label(1_793_793_600), "Nov 4, 12:00");
        assert_eq!(instant_label(1_793_793_600), "2026-11-04 12:00");
    }
}
