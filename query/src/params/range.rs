//! The date range a query covers, read in the project's time zone.

use contract::query::TimeRange;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _, Zoned};

use super::{Invalid, invalid};

/// Longest range any query may cover.
pub(crate) const MAX_RANGE_DAYS: i64 = 3 * 366;

/// The instants a query covers: from `from` inclusive to `to` exclusive, with the zone they
/// were read in.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    pub(crate) from: Zoned,
    pub(crate) to: Zoned,
}

impl Range {
    /// `from` and `to` as RFC 3339 instants or `YYYY-MM-DD` dates in `zone` (a `to` date is
    /// inclusive: the range ends at the start of the next day). Missing: the last 7 days.
    pub(crate) fn parse(
        from: Option<&str>,
        to: Option<&str>,
        zone: &TimeZone,
    ) -> Result<Self, Invalid> {
        let now = Timestamp::now().to_zoned(zone.clone());
        let to = match to.filter(|t| !t.is_empty()) {
            Some(text) => instant(text, zone, true)?,
            None => now.clone(),
        };
        let from = match from.filter(|f| !f.is_empty()) {
            Some(text) => instant(text, zone, false)?,
            None => to
                .checked_sub(7.days())
                .map_err(|err| invalid(err.to_string()))?,
        };
        if from >= to {
            return Err(invalid("`from` must be before `to`"));
        }
        let days = (to.timestamp().as_second() - from.timestamp().as_second()) / 86_400;
        if days > MAX_RANGE_DAYS {
            return Err(invalid(format!(
                "the range covers {days} days; at most {MAX_RANGE_DAYS} are allowed"
            )));
        }
        Ok(Self { from, to })
    }

    /// The range of equal length just before this one.
    pub(crate) fn previous(&self) -> Self {
        let length = self.to.timestamp().as_second() - self.from.timestamp().as_second();
        let from = Timestamp::from_second(self.from.timestamp().as_second() - length)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(self.from.time_zone().clone());
        Self {
            from,
            to: self.from.clone(),
        }
    }

    /// Seconds since the epoch of `from` and `to`, as the SQL binds them.
    pub(crate) fn seconds(&self) -> (i64, i64) {
        (
            self.from.timestamp().as_second().max(0),
            self.to.timestamp().as_second().max(0),
        )
    }

    /// `{from, to}` as RFC 3339 instants in UTC: exactly what the SQL covered.
    pub(crate) fn to_wire(&self) -> TimeRange {
        TimeRange {
            from: self.from.timestamp().to_string(),
            to: self.to.timestamp().to_string(),
        }
    }
}

fn instant(text: &str, zone: &TimeZone, end_of_day: bool) -> Result<Zoned, Invalid> {
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp.to_zoned(zone.clone()));
    }
    let date: Date = text.parse().map_err(|_| {
        invalid(format!(
            "{text:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"
        ))
    })?;
    let date = if end_of_day {
        date.tomorrow().map_err(|err| invalid(err.to_string()))?
    } else {
        date
    };
    date.to_zoned(zone.clone())
        .map_err(|err| invalid(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::zone;

    #[test]
    fn dates_are_days_in_the_project_zone_and_to_is_inclusive() {
        let berlin = zone("Europe/Berlin");
        let range = Range::parse(Some("2026-03-28"), Some("2026-03-29"), &berlin).expect("range");
        assert_eq!(range.to_wire().from, "2026-03-27T23:00:00Z");
        // The night of the switch to summer time: the day after ends at 22:00 UTC.
        assert_eq!(range.to_wire().to, "2026-03-29T22:00:00Z");
        let previous = range.previous();
        assert_eq!(previous.to_wire().to, "2026-03-27T23:00:00Z");
    }
}
