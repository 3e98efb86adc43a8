//! How the app writes counts, sizes, dates and page positions for people: plain functions, so
//! they are tested natively.

/// A byte count in binary units, three significant digits at most: `512 B`, `1.5 KiB`,
/// `12.3 MiB`, `240 GiB`.
pub(crate) fn bytes_label(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // Precision is not the point of a size shown to a person; f64 holds any u64 closely enough.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // 1023.96 KiB rounds to "1024 KiB"; it reads better one unit up.
    if value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 99.95 {
        let text = format!("{value:.1}");
        let text = text.strip_suffix(".0").unwrap_or(&text);
        format!("{text} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Seconds as a person reads a visit's length or a page's time: `45s`, `3m 05s`, `1h 02m`.
pub(crate) fn duration_label(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

/// A count with thousands separated: `1,234,567`.
pub(crate) fn count_label(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// Where a page of a list is: `51–100 of 230`, `No users` for an empty list.
pub(crate) fn page_label(page: u32, per_page: u32, shown: usize, total: u64, noun: &str) -> String {
    if total == 0 || shown == 0 {
        return if total == 0 {
            format!("No {noun}")
        } else {
            format!("0 of {}", count_label(total))
        };
    }
    let first = u64::from(page.max(1) - 1) * u64::from(per_page) + 1;
    let last = first + u64::try_from(shown).unwrap_or(u64::MAX) - 1;
    format!(
        "{}–{} of {}",
        count_label(first),
        count_label(last.min(total)),
        count_label(total)
    )
}

/// Whether a page after `page` exists.
pub(crate) fn has_next_page(page: u32, per_page: u32, total: u64) -> bool {
    u64::from(page.max(1)) * u64::from(per_page) < total
}

/// A calendar date as ISO 8601: `2026-03-07`.
pub(crate) fn date_label(year: i32, month: u8, day: u8) -> String {
    format!("{year:04}-{month:02}-{day:02}")
}

/// How long ago something happened, coarsely: `just now`, `5 min ago`, `3 h ago`, `12 days ago`.
pub(crate) fn ago_label(seconds: i64) -> String {
    match seconds.max(0) {
        0..60 => "just now".to_owned(),
        s @ 60..3_600 => format!("{} min ago", s / 60),
        s @ 3_600..86_400 => format!("{} h ago", s / 3_600),
        86_400..172_800 => "yesterday".to_owned(),
        s => format!("{} days ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units_with_at_most_three_digits() {
        assert_eq!(bytes_label(0), "0 B");
        assert_eq!(bytes_label(1023), "1023 B");
        assert_eq!(bytes_label(1024), "1 KiB");
        assert_eq!(bytes_label(1536), "1.5 KiB");
        assert_eq!(bytes_label(12_900_000), "12.3 MiB");
        assert_eq!(bytes_label(150 * 1024 * 1024), "150 MiB");
        assert_eq!(bytes_label(1024 * 1024 - 1), "1 MiB");
        assert_eq!(bytes_label(u64::MAX), "16 EiB");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count_label(0), "0");
        assert_eq!(count_label(999), "999");
        assert_eq!(count_label(1_000), "1,000");
        assert_eq!(count_label(1_234_567), "1,234,567");
    }

    #[test]
    fn a_page_says_which_rows_it_shows_of_how_many() {
        assert_eq!(page_label(1, 50, 50, 230, "users"), "1–50 of 230");
        assert_eq!(page_label(5, 50, 30, 230, "users"), "201–230 of 230");
        assert_eq!(page_label(1, 50, 1, 1, "users"), "1–1 of 1");
        assert_eq!(page_label(1, 50, 0, 0, "users"), "No users");
        assert_eq!(page_label(9, 50, 0, 230, "users"), "0 of 230");
        assert!(has_next_page(1, 50, 51));
        assert!(!has_next_page(1, 50, 50));
        assert!(!has_next_page(2, 50, 100));
    }

    #[test]
    fn dates_and_ages_read_for_people() {
        assert_eq!(date_label(2026, 3, 7), "2026-03-07");
        assert_eq!(ago_label(-5), "just now");
        assert_eq!(ago_label(59), "just now");
        assert_eq!(ago_label(125), "2 min ago");
        assert_eq!(ago_label(7_300), "2 h ago");
        assert_eq!(ago_label(90_000), "yesterday");
        assert_eq!(ago_label(12 * 86_400 + 5), "12 days ago");
    }
}
