//! The size of a trends bucket, and the buckets a range holds: spans of instants, not
//! wall-clock labels.
//!
//! A bucket holds the instants that share the project zone's local minute, hour, day, week or
//! month and, below a day, the zone's offset too: on the night clocks go back, 01:00 at -07:00
//! and 01:00 at -08:00 are two hours, and on the night they go forward the missing hour is no
//! bucket; where an offset changes by less than the bucket (Australia/Lord_Howe moves 30
//! minutes), the bucket it cuts is shorter. So the buckets of any interval cover the range
//! without gap or overlap and add up to the same total.
//!
//! The boundaries come from jiff's time zone database; the SQL puts a row in its bucket with
//! arithmetic on its UTC seconds and the offset of the stretch of the range it falls in
//! (bound, like everything else), so ClickHouse 18.16 and current ClickHouse, whose
//! `toStartOfHour` and zone data differ around offset changes, give the same answer.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _, Zoned};

use super::range::Range;
use super::{Invalid, invalid};

/// Most buckets one trends query may produce.
pub(crate) const MAX_BUCKETS: usize = 2_000;

const DAY_SECONDS: i64 = 86_400;
const WEEK_SECONDS: i64 = 7 * DAY_SECONDS;

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

    /// The length of a bucket below a day, in seconds (before an offset change cuts it).
    fn clock_seconds(self) -> Option<i64> {
        match self {
            Self::Minute => Some(60),
            Self::Hour => Some(3_600),
            Self::Day | Self::Week | Self::Month => None,
        }
    }

    /// Every bucket of `range` in its zone, in order; fails when there would be more than
    /// [`MAX_BUCKETS`].
    pub(crate) fn buckets(self, range: &Range) -> Result<Buckets, Invalid> {
        let zone = range.from.time_zone().clone();
        let (from, to) = range.seconds();
        let segments = segments(&zone, from, to);
        let from_date = instant(from).to_zoned(zone.clone()).date();
        let origin_date = origin(from_date);
        let mut buckets = Buckets {
            interval: self,
            zone,
            segments,
            origin_date,
            origin: civil_seconds(origin_date),
            starts: Vec::new(),
        };
        match self.clock_seconds() {
            Some(size) => buckets.clock_starts(size, from, to)?,
            None => buckets.calendar_starts(from_date, to)?,
        }
        Ok(buckets)
    }
}

/// A stretch of a range in which the zone's offset stays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    /// Its first second (Unix time). The first segment starts at the zone's last offset change
    /// before the range, so that the first bucket, which may start before the range does, is
    /// whole.
    start: i64,
    /// The zone's offset from UTC in it, in seconds.
    offset: i64,
}

/// One bucket: where it starts, and the key the SQL gives its rows.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) start: Zoned,
    pub(crate) key: i64,
}

impl Bucket {
    /// The start as the answer shows it: RFC 3339 with the offset the zone has then.
    pub(crate) fn time(&self) -> String {
        self.start.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The buckets of one range, and what the SQL needs to put a row in its bucket.
#[derive(Debug)]
pub(crate) struct Buckets {
    interval: Interval,
    zone: TimeZone,
    /// In order; every second of the range is in exactly one.
    segments: Vec<Segment>,
    /// A Monday at least a week before the range: keys count from its midnight, so the SQL's
    /// divisions only ever see non-negative numbers.
    origin_date: Date,
    /// That midnight as local civil seconds (the Unix time it would be in UTC).
    origin: i64,
    starts: Vec<Bucket>,
}

impl Buckets {
    /// The buckets, in order.
    pub(crate) fn list(&self) -> &[Bucket] {
        &self.starts
    }

    /// A row's bucket key, as an Int64 expression: arithmetic on the row's Unix seconds and the
    /// offset of the segment it falls in (`multiIf` picks the segment when the range has more
    /// than one).
    pub(crate) fn sql(&self) -> String {
        let key = self.segment_sql();
        if self.segments.len() < 2 {
            return format!("toInt64({key})");
        }
        // Each segment but the last ends where the next starts.
        let mut sql = String::from("toInt64(multiIf(");
        for _ in 1..self.segments.len() {
            sql.push_str(&format!("timestamp < toDateTime(?), {key}, "));
        }
        sql.push_str(&key);
        sql.push_str("))");
        sql
    }

    /// Binds what [`Self::sql`] holds.
    pub(crate) fn bind(&self, mut query: clickhouse::query::Query) -> clickhouse::query::Query {
        for pair in self.segments.windows(2) {
            query = query.bind(pair[1].start);
            query = self.bind_segment(query, &pair[0]);
        }
        if let Some(last) = self.segments.last() {
            query = self.bind_segment(query, last);
        }
        query
    }

    /// The key within one segment; [`Self::bind_segment`] binds its `?`.
    fn segment_sql(&self) -> String {
        // The row's local civil seconds since the origin's midnight.
        const LOCAL: &str = "(toInt64(timestamp) + ?)";
        match self.interval {
            // The start of the row's local minute or hour as Unix seconds, or the segment's
            // start where an offset change cut the bucket.
            Interval::Minute | Interval::Hour => {
                let size = self.interval.clock_seconds().unwrap_or(DAY_SECONDS);
                format!("greatest(intDiv({LOCAL}, {size}) * {size} - ?, ?)")
            }
            // Local days since the origin.
            Interval::Day => format!("intDiv({LOCAL}, {DAY_SECONDS})"),
            // Local weeks since the origin, a Monday.
            Interval::Week => format!("intDiv({LOCAL}, {WEEK_SECONDS})"),
            // The local date's year and month, as YYYYMM.
            Interval::Month => format!("toYYYYMM(toDate(?) + intDiv({LOCAL}, {DAY_SECONDS}))"),
        }
    }

    fn bind_segment(
        &self,
        query: clickhouse::query::Query,
        segment: &Segment,
    ) -> clickhouse::query::Query {
        let shift = segment.offset - self.origin;
        match self.interval {
            Interval::Minute | Interval::Hour => query.bind(shift).bind(shift).bind(segment.start),
            Interval::Day | Interval::Week => query.bind(shift),
            Interval::Month => query.bind(self.origin_date.to_string()).bind(shift),
        }
    }

    /// The key the SQL gives a row at Unix second `at`: the same arithmetic, for the tests, the
    /// first bucket of a clock interval and the trends kept per day (`crate::trends::days`).
    pub(crate) fn key_of(&self, at: i64) -> i64 {
        let segment = self.segment_of(at);
        let local = at + segment.offset - self.origin;
        match self.interval {
            Interval::Minute | Interval::Hour => {
                let size = self.interval.clock_seconds().unwrap_or(DAY_SECONDS);
                (local.div_euclid(size) * size - (segment.offset - self.origin)).max(segment.start)
            }
            Interval::Day => local.div_euclid(DAY_SECONDS),
            Interval::Week => local.div_euclid(WEEK_SECONDS),
            Interval::Month => {
                let date = self
                    .origin_date
                    .checked_add(local.div_euclid(DAY_SECONDS).days())
                    .unwrap_or(self.origin_date);
                month_key(date)
            }
        }
    }

    /// Whether every bucket and every offset change after `from` starts at a whole multiple of
    /// `unit` seconds (Unix time), so that the rows of a `unit`-long stretch of the range that
    /// starts at such a multiple (or at `from`) all have one key. Zones move their clocks on
    /// whole quarter hours, so for any range of this century a quarter hour is such a unit for
    /// every interval from an hour up, and a minute for minutes.
    pub(crate) fn on_grid(&self, unit: i64, from: i64) -> bool {
        let starts = self.starts.iter().map(|b| b.start.timestamp().as_second());
        let changes = self.segments.iter().map(|s| s.start);
        starts
            .chain(changes)
            .filter(|start| *start > from)
            .all(|start| start.rem_euclid(unit) == 0)
    }

    /// The segment holding Unix second `at` (the first for anything before it).
    fn segment_of(&self, at: i64) -> Segment {
        let later = self.segments.partition_point(|s| s.start <= at);
        self.segments[later.saturating_sub(1)]
    }

    fn push(&mut self, start: i64, key: i64) -> Result<(), Invalid> {
        if self.starts.len() == MAX_BUCKETS {
            return Err(invalid(format!(
                "the range holds more than {MAX_BUCKETS} buckets of this interval; \
                 choose a shorter range or a longer interval"
            )));
        }
        let start = instant(start).to_zoned(self.zone.clone());
        self.starts.push(Bucket { start, key });
        Ok(())
    }

    /// Minute or hour buckets: from the one holding `from`, each ends at the next whole
    /// `size` of the local clock or at the next offset change, whichever comes first.
    fn clock_starts(&mut self, size: i64, from: i64, to: i64) -> Result<(), Invalid> {
        let mut at = self.key_of(from);
        while at < to {
            self.push(at, at)?;
            let segment = self.segment_of(at);
            let local = at + segment.offset;
            let mut next = (local.div_euclid(size) + 1) * size - segment.offset;
            if let Some(change) = self.segments.iter().find(|s| s.start > at) {
                next = next.min(change.start);
            }
            at = next;
        }
        Ok(())
    }

    /// Day, week or month buckets: each starts when its first local day does (midnight, or
    /// the first instant after it when midnight is skipped).
    fn calendar_starts(&mut self, from_date: Date, to: i64) -> Result<(), Invalid> {
        let mut date = match self.interval {
            Interval::Week => monday(from_date),
            Interval::Month => from_date.first_of_month(),
            _ => from_date,
        };
        loop {
            let start = date
                .to_zoned(self.zone.clone())
                .map_err(|err| invalid(err.to_string()))?
                .timestamp()
                .as_second();
            if start >= to {
                return Ok(());
            }
            let days = (civil_seconds(date) - self.origin).div_euclid(DAY_SECONDS);
            let (key, step) = match self.interval {
                Interval::Week => (days.div_euclid(7), 1.week()),
                Interval::Month => (month_key(date), 1.month()),
                _ => (days, 1.day()),
            };
            self.push(start, key)?;
            date = date
                .checked_add(step)
                .map_err(|_| invalid("the range runs past the calendar"))?;
        }
    }
}

/// The stretches of `[from, to)` with one offset each; the first reaches back to the zone's
/// last offset change at or before `from`.
fn segments(zone: &TimeZone, from: i64, to: i64) -> Vec<Segment> {
    let offset_at = |at: i64| i64::from(zone.to_offset(instant(at)).seconds());
    let changes = |transition: &jiff::tz::TimeZoneTransition| {
        let at = transition.timestamp().as_second();
        offset_at(at) != offset_at(at - 1)
    };
    // A few transitions only rename the zone; ten back always reaches a real change, if any.
    let start = zone
        .preceding(instant(from + 1))
        .take(10)
        .find(changes)
        .map_or(from - WEEK_SECONDS, |t| t.timestamp().as_second());
    let mut segments = vec![Segment {
        start,
        offset: offset_at(from),
    }];
    for transition in zone.following(instant(from)) {
        let at = transition.timestamp().as_second();
        if at >= to {
            break;
        }
        if changes(&transition) {
            segments.push(Segment {
                start: at,
                offset: offset_at(at),
            });
        }
    }
    segments
}

fn instant(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Midnight of `date` as the Unix time it would be in UTC.
fn civil_seconds(date: Date) -> i64 {
    date.to_zoned(TimeZone::UTC)
        .map_or(0, |midnight| midnight.timestamp().as_second())
}

fn monday(date: Date) -> Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(back.days()).unwrap_or(date)
}

/// The Monday a week or more before `from_date`, but not before the first Monday of Unix
/// time (a ClickHouse `Date` starts in 1970).
fn origin(from_date: Date) -> Date {
    let first = jiff::civil::date(1970, 1, 5);
    let week_before = from_date.checked_sub(7.days()).unwrap_or(first);
    monday(week_before).max(first)
}

/// A month as ClickHouse's `toYYYYMM` gives it.
fn month_key(date: Date) -> i64 {
    i64::from(date.year()) * 100 + i64::from(date.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::zone;

    fn day(zone_name: &str, date: &str) -> Range {
        Range::parse(Some(date), Some(date), &zone(zone_name)).expect("range")
    }

    fn times(buckets: &Buckets) -> Vec<String> {
        buckets.list().iter().map(Bucket::time).collect()
    }

    #[test]
    fn absurd_ranges_and_bucket_counts_are_refused() {
        let utc = zone("UTC");
        assert!(Range::parse(Some("2016-01-01"), Some("2026-01-01"), &utc).is_err());
        assert!(Range::parse(Some("2026-01-02"), Some("2026-01-01"), &utc).is_err());
        assert!(Range::parse(Some("yesterday"), None, &utc).is_err());
        let year = Range::parse(Some("2025-01-01"), Some("2025-12-31"), &utc).expect("range");
        assert!(Interval::Minute.buckets(&year).is_err());
        assert_eq!(
            Interval::Month.buckets(&year).expect("months").list().len(),
            12
        );
        assert_eq!(
            Interval::Day.buckets(&year).expect("days").list().len(),
            365
        );
    }

    #[test]
    fn weeks_start_on_monday_and_buckets_show_the_zone_offset() {
        let utc = zone("UTC");
        // 2026-11-04 is a Wednesday.
        let range = Range::parse(Some("2026-11-04"), Some("2026-11-10"), &utc).expect("range");
        let weeks = Interval::Week.buckets(&range).expect("weeks");
        assert_eq!(
            times(&weeks),
            ["2026-11-02T00:00:00+00:00", "2026-11-09T00:00:00+00:00"]
        );
        let kolkata = day("Asia/Kolkata", "2026-11-04");
        let hours = Interval::Hour.buckets(&kolkata).expect("hours");
        assert_eq!(hours.list()[1].time(), "2026-11-04T01:00:00+05:30");
    }

    /// Bucket counts per zone and day: the day's length in hours (rounded up where an offset
    /// change of half an hour leaves a half-hour bucket) and in minutes.
    #[test]
    fn days_with_an_offset_change_have_as_many_buckets_as_the_clock_shows() {
        let cases = [
            ("America/Los_Angeles", "2026-03-08", 23, 1380),
            ("America/Los_Angeles", "2026-11-01", 25, 1500),
            ("Europe/Berlin", "2026-03-29", 23, 1380),
            ("Europe/Berlin", "2026-10-25", 25, 1500),
            ("Asia/Kolkata", "2026-11-01", 24, 1440),
            ("Asia/Kathmandu", "2026-11-01", 24, 1440),
            ("Australia/Lord_Howe", "2026-04-05", 25, 1470),
            ("Australia/Lord_Howe", "2026-10-04", 24, 1410),
        ];
        for (zone_name, date, hours, minutes) in cases {
            let range = day(zone_name, date);
            let hourly = Interval::Hour.buckets(&range).expect("hours");
            assert_eq!(hourly.list().len(), hours, "{zone_name} {date}");
            let by_minute = Interval::Minute.buckets(&range).expect("minutes");
            assert_eq!(by_minute.list().len(), minutes, "{zone_name} {date}");
            for interval in [Interval::Day, Interval::Week, Interval::Month] {
                assert_eq!(interval.buckets(&range).expect("one").list().len(), 1);
            }
        }
    }

    #[test]
    fn the_repeated_hour_is_two_buckets_told_apart_by_their_offset() {
        let range = day("America/Los_Angeles", "2026-11-01");
        let hours = times(&Interval::Hour.buckets(&range).expect("hours"));
        assert_eq!(
            hours[..4],
            [
                "2026-11-01T00:00:00-07:00",
                "2026-11-01T01:00:00-07:00",
                "2026-11-01T01:00:00-08:00",
                "2026-11-01T02:00:00-08:00",
            ]
        );
        let spring = day("America/Los_Angeles", "2026-03-08");
        let hours = times(&Interval::Hour.buckets(&spring).expect("hours"));
        assert_eq!(
            hours[1..3],
            ["2026-03-08T01:00:00-08:00", "2026-03-08T03:00:00-07:00"]
        );
        // Lord Howe's clocks go forward half an hour at 02:00: that hour is 30 minutes long.
        let lord_howe = day("Australia/Lord_Howe", "2026-10-04");
        let hours = times(&Interval::Hour.buckets(&lord_howe).expect("hours"));
        assert_eq!(
            hours[1..4],
            [
                "2026-10-04T01:00:00+10:30",
                "2026-10-04T02:30:00+11:00",
                "2026-10-04T03:00:00+11:00",
            ]
        );
    }

    /// Every second of a range around an offset change (and every minute of the rest) gets,
    /// by the SQL's arithmetic, the key of the one bucket whose span holds it; the buckets
    /// follow each other without gap from the first, which holds the range's start.
    #[test]
    fn every_instant_lands_in_exactly_one_bucket() {
        let ranges = [
            day("America/Los_Angeles", "2026-03-08"),
            day("America/Los_Angeles", "2026-11-01"),
            day("Europe/Berlin", "2026-10-25"),
            day("Asia/Kathmandu", "2026-11-01"),
            day("Australia/Lord_Howe", "2026-04-05"),
            day("Australia/Lord_Howe", "2026-10-04"),
            Range::parse(
                Some("2026-10-31T17:13:00Z"),
                Some("2026-11-02T00:00:00Z"),
                &zone("America/Los_Angeles"),
            )
            .expect("range"),
            Range::parse(
                Some("2026-02-20"),
                Some("2026-04-10"),
                &zone("Europe/Berlin"),
            )
            .expect("range"),
        ];
        let intervals = [
            Interval::Minute,
            Interval::Hour,
            Interval::Day,
            Interval::Week,
            Interval::Month,
        ];
        for range in &ranges {
            let (from, to) = range.seconds();
            for interval in intervals {
                let Ok(buckets) = interval.buckets(range) else {
                    continue;
                };
                let list = buckets.list();
                let starts: Vec<i64> = list
                    .iter()
                    .map(|b| b.start.timestamp().as_second())
                    .collect();
                assert!(starts[0] <= from && starts.windows(2).all(|w| w[0] < w[1]));
                assert!(*starts.last().expect("a bucket") < to);
                let step = if buckets.segments.len() > 1 && to - from < 3 * DAY_SECONDS {
                    1
                } else {
                    60
                };
                for at in (from..to).step_by(step) {
                    let holder = starts.partition_point(|s| *s <= at) - 1;
                    assert_eq!(
                        buckets.key_of(at),
                        list[holder].key,
                        "{interval:?} {} at {}",
                        range.from,
                        instant(at)
                    );
                }
                // Keys tell buckets apart.
                let keys: std::collections::HashSet<i64> = list.iter().map(|b| b.key).collect();
                assert_eq!(keys.len(), list.len());
            }
        }
    }
}
