//! The size of a trends bucket, and the buckets a range holds.

use jiff::ToSpan as _;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::range::Range;
use super::{Invalid, invalid};

/// Most buckets one trends query may produce.
pub(crate) const MAX_BUCKETS: usize = 2_000;

/// The size of a trends bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interval {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl Interval {
    pub(crate) fn parse(text: Option<&str>) -> Result<Self, Invalid> {
        match text.unwrap_or("day") {
            "minute" => Ok(Self::Minute),
            "hour" => Ok(Self::Hour),
            "day" | "" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            other => Err(invalid(format!(
                "interval {other:?} is not one of minute, hour, day, week, month"
            ))),
        }
    }

    /// The ClickHouse expression of a row's bucket, as local civil time text
    /// (`YYYY-MM-DD` or `YYYY-MM-DD hh:mm:ss`); `?` is the zone name.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Minute => "toString(toStartOfMinute(timestamp), ?)",
            Self::Hour => "toString(toStartOfHour(timestamp, ?), ?)",
            Self::Day => "toString(toDate(timestamp, ?))",
            Self::Week => "toString(toMonday(timestamp, ?))",
            Self::Month => "toString(toStartOfMonth(timestamp, ?))",
        }
    }

    /// How many times the zone name is bound in [`Self::sql`].
    pub(crate) fn zone_binds(self) -> usize {
        match self {
            Self::Hour => 2,
            _ => 1,
        }
    }

    /// The civil start of the bucket holding `at`.
    fn truncate(self, at: DateTime) -> DateTime {
        let date = at.date();
        match self {
            Self::Minute => date.at(at.hour(), at.minute(), 0, 0),
            Self::Hour => date.at(at.hour(), 0, 0, 0),
            Self::Day => date.at(0, 0, 0, 0),
            Self::Week => {
                let back = i64::from(date.weekday().to_monday_zero_offset());
                date.checked_sub(back.days()).unwrap_or(date).at(0, 0, 0, 0)
            }
            Self::Month => date.first_of_month().at(0, 0, 0, 0),
        }
    }

    fn step(self, at: DateTime) -> Option<DateTime> {
        match self {
            Self::Minute => at.checked_add(1.minute()).ok(),
            Self::Hour => at.checked_add(1.hour()).ok(),
            Self::Day => at.checked_add(1.day()).ok(),
            Self::Week => at.checked_add(1.week()).ok(),
            Self::Month => at.checked_add(1.month()).ok(),
        }
    }

    /// Every bucket of `range`, in order, as the civil text the SQL produces; fails when there
    /// would be more than [`MAX_BUCKETS`].
    pub(crate) fn buckets(self, range: &Range) -> Result<Vec<DateTime>, Invalid> {
        let end = range.to.datetime();
        let mut at = self.truncate(range.from.datetime());
        let mut buckets = Vec::new();
        while at < end {
            if buckets.len() == MAX_BUCKETS {
                return Err(invalid(format!(
                    "the range holds more than {MAX_BUCKETS} buckets of this interval; \
                     choose a shorter range or a longer interval"
                )));
            }
            buckets.push(at);
            at = self
                .step(at)
                .ok_or_else(|| invalid("the range runs past the calendar"))?;
        }
        Ok(buckets)
    }

    /// The text the SQL gives for the bucket starting at `at`.
    pub(crate) fn key(self, at: DateTime) -> String {
        match self {
            Self::Minute | Self::Hour => at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            _ => at.date().to_string(),
        }
    }
}

/// The bucket start `at` in `zone`, as an RFC 3339 time with the zone's offset.
pub(crate) fn bucket_time(at: DateTime, zone: &TimeZone) -> String {
    match at.to_zoned(zone.clone()) {
        Ok(zoned) => zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => at.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::zone;

    #[test]
    fn absurd_ranges_and_bucket_counts_are_refused() {
        let utc = zone("UTC");
        assert!(Range::parse(Some("2016-01-01"), Some("2026-01-01"), &utc).is_err());
        assert!(Range::parse(Some("2026-01-02"), Some("2026-01-01"), &utc).is_err());
        assert!(Range::parse(Some("yesterday"), None, &utc).is_err());
        let year = Range::parse(Some("2025-01-01"), Some("2025-12-31"), &utc).expect("range");
        assert!(Interval::Minute.buckets(&year).is_err());
        assert_eq!(Interval::Month.buckets(&year).expect("months").len(), 12);
        assert_eq!(Interval::Day.buckets(&year).expect("days").len(), 365);
    }

    #[test]
    fn weeks_start_on_monday_and_keys_match_the_sql_text() {
        let utc = zone("UTC");
        // 2026-11-04 is a Wednesday.
        let range = Range::parse(Some("2026-11-04"), Some("2026-11-10"), &utc).expect("range");
        let weeks = Interval::Week.buckets(&range).expect("weeks");
        let keys: Vec<String> = weeks.iter().map(|w| Interval::Week.key(*w)).collect();
        assert_eq!(keys, ["2026-11-02", "2026-11-09"]);
        let hours = Interval::Hour.buckets(&range).expect("hours");
        assert_eq!(Interval::Hour.key(hours[1]), "2026-11-04 01:00:00");
        assert_eq!(
            bucket_time(hours[1], &zone("Asia/Kolkata")),
            "2026-11-04T01:00:00+05:30"
        );
    }
}
