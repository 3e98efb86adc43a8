//! The date range's presets and the calendar arithmetic they need, on `YYYY-MM-DD` dates, and
//! instants as RFC 3339 text and as a `datetime-local` input's `YYYY-MM-DDTHH:MM`.

/// The date range: a preset relative to today, or two fixed dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    Today,
    Days7,
    Days30,
    Days90,
    Custom,
}

impl Preset {
    pub(crate) const ALL: [Preset; 5] = [
        Preset::Today,
        Preset::Days7,
        Preset::Days30,
        Preset::Days90,
        Preset::Custom,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::Days7 => "7d",
            Preset::Days30 => "30d",
            Preset::Days90 => "90d",
            Preset::Custom => "custom",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Preset::Today => "Today",
            Preset::Days7 => "Last 7 days",
            Preset::Days30 => "Last 30 days",
            Preset::Days90 => "Last 90 days",
            Preset::Custom => "Custom dates",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Preset::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The first and last day (inclusive) of the preset ending `today`; `None` for custom.
    pub(crate) fn days(self, today: &str) -> Option<(String, String)> {
        let back = match self {
            Preset::Today => 0,
            Preset::Days7 => 6,
            Preset::Days30 => 29,
            Preset::Days90 => 89,
            Preset::Custom => return None,
        };
        Some((add_days(today, -back)?, today.to_owned()))
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if text.len() != 10 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (format_date(days) == text).then_some(days)
}

/// The `YYYY-MM-DD` date `days` after 1970-01-01.
pub(crate) fn format_date(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `date` moved by `days`.
pub(crate) fn add_days(date: &str, days: i64) -> Option<String> {
    Some(format_date(parse_date(date)? + days))
}

/// Seconds since 1970-01-01 UTC of an RFC 3339 time (`2026-11-02T14:00:00+01:00`, `…Z`, with
/// or without a fraction of a second, which is dropped).
pub(crate) fn unix_seconds(text: &str) -> Option<i64> {
    let (local, offset) = if let Some(local) = text.strip_suffix(['Z', 'z']) {
        (local, 0)
    } else {
        let at = text.len().checked_sub(6)?;
        let (local, zone) = text.split_at_checked(at)?;
        let sign = match zone.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (hours, minutes) = zone[1..].split_once(':')?;
        let minutes = hours.parse::<i64>().ok()? * 60 + minutes.parse::<i64>().ok()?;
        (local, sign * minutes)
    };
    let whole = local.split_once('.').map_or(local, |(whole, _)| whole);
    let seconds = whole.get(16..).and_then(|s| s.strip_prefix(':'));
    let seconds = seconds.map_or(Some(0), |s| s.parse::<i64>().ok())?;
    Some(wall_seconds(whole.get(..16)?)? + seconds - offset * 60)
}

/// Seconds since 1970-01-01 of a wall-clock time `YYYY-MM-DDTHH:MM` as if it were UTC.
fn wall_seconds(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let (hours, minutes) = time.split_once(':')?;
    let (hours, minutes) = (hours.parse::<i64>().ok()?, minutes.parse::<i64>().ok()?);
    if time.len() != 5 || !(0..24).contains(&hours) || !(0..60).contains(&minutes) {
        return None;
    }
    Some(parse_date(date)? * 86_400 + hours * 3_600 + minutes * 60)
}

/// The instant `unix` as the wall clock `offset_minutes` east of UTC shows it, to the minute:
/// `YYYY-MM-DDTHH:MM`, a `datetime-local` input's value.
pub(crate) fn wall_clock(unix: i64, offset_minutes: i64) -> String {
    let local = unix + offset_minutes * 60;
    let minute = local.rem_euclid(86_400) / 60;
    format!(
        "{}T{:02}:{:02}",
        format_date(local.div_euclid(86_400)),
        minute / 60,
        minute % 60
    )
}

/// The instant of the wall clock `text` (`YYYY-MM-DDTHH:MM`) `offset_minutes` east of UTC.
pub(crate) fn from_wall_clock(text: &str, offset_minutes: i64) -> Option<i64> {
    Some(wall_seconds(text)? - offset_minutes * 60)
}

/// The instant `unix` as RFC 3339 in UTC: `2026-11-04T12:00:00Z`.
pub(crate) fn rfc3339(unix: i64) -> String {
    let seconds = unix.rem_euclid(60);
    format!("{}:{seconds:02}Z", wall_clock(unix - seconds, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_move_across_months_years_and_leap_days() {
        assert_eq!(add_days("2026-03-01", -1).as_deref(), Some("2026-02-28"));
        assert_eq!(add_days("2024-03-01", -1).as_deref(), Some("2024-02-29"));
        assert_eq!(add_days("2026-12-31", 1).as_deref(), Some("2027-01-01"));
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-2-3"), None);
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn presets_end_today_and_count_today_as_a_day() {
        assert_eq!(
            Preset::Days7.days("2026-11-30"),
            Some(("2026-11-24".to_owned(), "2026-11-30".to_owned()))
        );
        assert_eq!(
            Preset::Today.days("2026-11-30"),
            Some(("2026-11-30".to_owned(), "2026-11-30".to_owned()))
        );
        assert_eq!(Preset::Custom.days("2026-11-30"), None);
    }

    #[test]
    fn instants_read_from_rfc3339_and_the_wall_clock_and_back() {
        let noon = 1_793_793_600; // 2026-11-04T12:00:00Z
        assert_eq!(unix_seconds("2026-11-04T12:00:00Z"), Some(noon));
        assert_eq!(unix_seconds("2026-11-04T13:00:00+01:00"), Some(noon));
        assert_eq!(unix_seconds("2026-11-04T07:30:00.250-04:30"), Some(noon));
        assert_eq!(unix_seconds("2026-11-04T12:00Z"), Some(noon));
        assert_eq!(unix_seconds("2026-11-04T12:00:00"), None, "no zone");
        assert_eq!(unix_seconds("2026-11-04T25:00:00Z"), None);
        assert_eq!(unix_seconds("soon"), None);
        assert_eq!(rfc3339(noon + 5), "2026-11-04T12:00:05Z");
        assert_eq!(wall_clock(noon, 60), "2026-11-04T13:00");
        assert_eq!(wall_clock(noon, -13 * 60), "2026-11-03T23:00");
        assert_eq!(from_wall_clock("2026-11-04T13:00", 60), Some(noon));
        assert_eq!(from_wall_clock("2026-11-04", 0), None);
    }
}
