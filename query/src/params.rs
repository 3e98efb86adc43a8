//! What a query may ask for, checked before any SQL is built: the date range in the project's
//! time zone, the bucket interval, dimensions and property keys.

use contract::query::{FilterSpec, TimeRange};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _, Zoned};

/// Most buckets one trends query may produce.
pub const MAX_BUCKETS: usize = 2_000;
/// Longest range any query may cover.
pub const MAX_RANGE_DAYS: i64 = 3 * 366;
/// Most values a top list or a breakdown may ask for.
pub const MAX_LIMIT: usize = 1_000;

/// A client mistake, answered 400 with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

/// The instants a query covers: from `from` inclusive to `to` exclusive, with the zone they
/// were read in.
#[derive(Debug, Clone)]
pub struct Range {
    pub from: Zoned,
    pub to: Zoned,
}

impl Range {
    /// `from` and `to` as RFC 3339 instants or `YYYY-MM-DD` dates in `zone` (a `to` date is
    /// inclusive: the range ends at the start of the next day). Missing: the last 7 days.
    pub fn parse(from: Option<&str>, to: Option<&str>, zone: &TimeZone) -> Result<Self, Invalid> {
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
    pub fn previous(&self) -> Self {
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
    pub fn seconds(&self) -> (i64, i64) {
        (
            self.from.timestamp().as_second().max(0),
            self.to.timestamp().as_second().max(0),
        )
    }

    /// `{from, to}` as RFC 3339 instants in UTC: exactly what the SQL covered.
    pub fn to_wire(&self) -> TimeRange {
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

/// A project's zone by its IANA name; UTC when the name is unknown to the bundled database.
pub fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// The size of a trends bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl Interval {
    pub fn parse(text: Option<&str>) -> Result<Self, Invalid> {
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
    pub fn sql(self) -> &'static str {
        match self {
            Self::Minute => "toString(toStartOfMinute(timestamp), ?)",
            Self::Hour => "toString(toStartOfHour(timestamp, ?), ?)",
            Self::Day => "toString(toDate(timestamp, ?))",
            Self::Week => "toString(toMonday(timestamp, ?))",
            Self::Month => "toString(toStartOfMonth(timestamp, ?))",
        }
    }

    /// How many times the zone name is bound in [`Self::sql`].
    pub fn zone_binds(self) -> usize {
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
    pub fn buckets(self, range: &Range) -> Result<Vec<DateTime>, Invalid> {
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
    pub fn key(self, at: DateTime) -> String {
        match self {
            Self::Minute | Self::Hour => at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            _ => at.date().to_string(),
        }
    }
}

/// The bucket start `at` in `zone`, as an RFC 3339 time with the zone's offset.
pub fn bucket_time(at: DateTime, zone: &TimeZone) -> String {
    match at.to_zoned(zone.clone()) {
        Ok(zoned) => zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => at.to_string(),
    }
}

/// A column or property the API can group and filter by. Property keys are bound as values,
/// never spliced into SQL; they still have to look like property keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    Column(&'static str),
    Property(String),
}

impl Dimension {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let column = match text {
            "event" => "event",
            "path" => "path",
            "host" => "host",
            "url" => "url",
            "referrer" | "referrer_domain" => "referrer_domain",
            "browser" => "browser",
            "os" => "os",
            "device" | "device_type" => "device_type",
            "kind" => "kind",
            "lib" => "lib",
            "distinct_id" => "distinct_id",
            other => {
                let key = other.strip_prefix("property:").ok_or_else(|| {
                    invalid(format!(
                        "dimension {other:?} is not one of event, path, host, url, referrer, \
                         browser, os, device, kind, lib, distinct_id or property:<key>"
                    ))
                })?;
                return Ok(Self::Property(property_key(key)?.to_owned()));
            }
        };
        Ok(Self::Column(column))
    }

    /// The SQL expression; a property reads its value by a bound key (`?`).
    pub fn sql(&self) -> &'static str {
        match self {
            Self::Column(column) => column,
            Self::Property(_) => "prop_values[indexOf(prop_keys, ?)]",
        }
    }

    /// The value bound into [`Self::sql`], if any.
    pub fn bind(&self) -> Option<&str> {
        match self {
            Self::Column(_) => None,
            Self::Property(key) => Some(key),
        }
    }
}

/// A value bound into SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Text(String),
    Number(f64),
}

/// Binds `binds` to the next placeholders of `query`, in order.
pub fn bind_all(mut query: clickhouse::query::Query, binds: &[Bound]) -> clickhouse::query::Query {
    for value in binds {
        query = match value {
            Bound::Text(text) => query.bind(text.as_str()),
            Bound::Number(number) => query.bind(*number),
        };
    }
    query
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    NotEquals,
    Contains,
    IsSet,
    IsNotSet,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// Most filters one query may carry.
pub const MAX_FILTERS: usize = 20;

/// One condition on a dimension or property, from the `filter` parameter: a JSON array of
/// `{"key": "<dimension>", "op": "eq|neq|contains|set|not_set|gt|gte|lt|lte", "value": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    dimension: Dimension,
    op: Op,
    value: Option<Bound>,
}

impl Filter {
    /// The filters of a `filter` parameter (absent or empty: none).
    pub fn parse_all(text: Option<&str>) -> Result<Vec<Self>, Invalid> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(Vec::new());
        };
        let specs: Vec<FilterSpec> = serde_json::from_str(text).map_err(|err| {
            invalid(format!(
                "filter must be a JSON array of {{key, op, value}}: {err}"
            ))
        })?;
        if specs.len() > MAX_FILTERS {
            return Err(invalid(format!(
                "at most {MAX_FILTERS} filters are allowed"
            )));
        }
        specs.into_iter().map(Self::from_spec).collect()
    }

    pub fn from_spec(spec: FilterSpec) -> Result<Self, Invalid> {
        let dimension = Dimension::parse(&spec.key)?;
        let op = match spec.op.as_str() {
            "eq" => Op::Equals,
            "neq" => Op::NotEquals,
            "contains" => Op::Contains,
            "set" => Op::IsSet,
            "not_set" => Op::IsNotSet,
            "gt" => Op::Greater,
            "gte" => Op::GreaterOrEqual,
            "lt" => Op::Less,
            "lte" => Op::LessOrEqual,
            other => {
                return Err(invalid(format!(
                    "filter op {other:?} is not one of eq, neq, contains, set, not_set, gt, gte, lt, lte"
                )));
            }
        };
        let value = match op {
            Op::IsSet | Op::IsNotSet => None,
            Op::Greater | Op::GreaterOrEqual | Op::Less | Op::LessOrEqual => {
                let number = match &spec.value {
                    Some(serde_json::Value::Number(n)) => n.as_f64(),
                    Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
                    _ => None,
                };
                Some(Bound::Number(number.filter(|n| n.is_finite()).ok_or_else(
                    || invalid(format!("filter on {:?} needs a numeric value", spec.key)),
                )?))
            }
            _ => Some(Bound::Text(match spec.value {
                Some(serde_json::Value::String(text)) => text,
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(serde_json::Value::Bool(b)) => b.to_string(),
                _ => {
                    return Err(invalid(format!(
                        "filter on {:?} needs a text value",
                        spec.key
                    )));
                }
            })),
        };
        Ok(Self {
            dimension,
            op,
            value,
        })
    }

    /// The condition, with `?` where [`Self::binds`] go, in order.
    pub fn sql(&self) -> String {
        let expr = self.dimension.sql();
        match (self.op, &self.dimension) {
            (Op::IsSet, Dimension::Property(_)) => "has(prop_keys, ?)".to_owned(),
            (Op::IsNotSet, Dimension::Property(_)) => "NOT has(prop_keys, ?)".to_owned(),
            (Op::IsSet, Dimension::Column(_)) => format!("{expr} != ''"),
            (Op::IsNotSet, Dimension::Column(_)) => format!("{expr} = ''"),
            (Op::Equals, _) => format!("{expr} = ?"),
            (Op::NotEquals, _) => format!("{expr} != ?"),
            (Op::Contains, _) => format!("positionCaseInsensitive({expr}, ?) > 0"),
            (op, _) => {
                let symbol = match op {
                    Op::Greater => ">",
                    Op::GreaterOrEqual => ">=",
                    Op::Less => "<",
                    _ => "<=",
                };
                // Only values that are numbers compare; text such as "abc" never matches.
                // (No `?` in the pattern: the client reads every `?` as a placeholder.)
                format!(
                    "(match({expr}, '^ *-{{0,1}}[0-9]+([.][0-9]+){{0,1}}([eE][-+]{{0,1}}[0-9]+){{0,1}} *$') \
                     AND toFloat64OrZero({expr}) {symbol} ?)"
                )
            }
        }
    }

    /// The values bound into [`Self::sql`], in order.
    pub fn binds(&self) -> Vec<Bound> {
        let key = self.dimension.bind().map(|k| Bound::Text(k.to_owned()));
        // A numeric comparison names the dimension twice: in the number check and in the
        // conversion.
        let uses = match self.op {
            Op::Greater | Op::GreaterOrEqual | Op::Less | Op::LessOrEqual => 2,
            _ => 1,
        };
        let mut binds: Vec<Bound> = std::iter::repeat_n(key, uses).flatten().collect();
        binds.extend(self.value.clone());
        binds
    }
}

/// A property key: 1 to 200 characters of letters, digits, `$`, `_`, `-`, `.`, `:` or space.
pub fn property_key(key: &str) -> Result<&str, Invalid> {
    let fine = !key.is_empty()
        && key.chars().count() <= 200
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '$' | '_' | '-' | '.' | ':' | ' '));
    if fine {
        Ok(key)
    } else {
        Err(invalid(format!("{key:?} is not a valid property key")))
    }
}

/// A `limit` parameter: default `default`, at most [`MAX_LIMIT`].
pub fn limit(text: Option<&str>, default: usize) -> Result<usize, Invalid> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(invalid(format!(
                "limit must be a number from 1 to {MAX_LIMIT}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn filters_bind_every_value_and_refuse_what_they_cannot_use() {
        let filters = Filter::parse_all(Some(
            r#"[{"key":"property:plan","op":"eq","value":"pro"},
                {"key":"browser","op":"contains","value":"chrom"},
                {"key":"property:price","op":"gte","value":10},
                {"key":"property:coupon","op":"not_set"}]"#,
        ))
        .expect("filters");
        let sql: Vec<String> = filters.iter().map(Filter::sql).collect();
        assert_eq!(sql[0], "prop_values[indexOf(prop_keys, ?)] = ?");
        assert_eq!(sql[1], "positionCaseInsensitive(browser, ?) > 0");
        assert_eq!(sql[3], "NOT has(prop_keys, ?)");
        for filter in &filters {
            assert_eq!(
                filter.sql().matches('?').count(),
                filter.binds().len(),
                "{filter:?}"
            );
        }
        assert_eq!(
            filters[2].binds(),
            [
                Bound::Text("price".into()),
                Bound::Text("price".into()),
                Bound::Number(10.0)
            ]
        );
        assert!(Filter::parse_all(Some(r#"[{"key":"x') OR 1","op":"eq","value":"a"}]"#)).is_err());
        assert!(Filter::parse_all(Some(r#"[{"key":"path","op":"like","value":"a"}]"#)).is_err());
        assert!(Filter::parse_all(Some(r#"[{"key":"path","op":"gt","value":"many"}]"#)).is_err());
        assert!(Filter::parse_all(Some("plan=pro")).is_err());
        assert_eq!(Filter::parse_all(None).expect("none"), []);
    }

    #[test]
    fn only_known_dimensions_and_plain_property_keys_pass() {
        assert_eq!(
            Dimension::parse("browser").expect("ok"),
            Dimension::Column("browser")
        );
        assert_eq!(
            Dimension::parse("property:$plan").expect("ok"),
            Dimension::Property("$plan".to_owned())
        );
        assert!(Dimension::parse("property:x') OR 1=1 --").is_err());
        assert!(Dimension::parse("password_hash").is_err());
        assert!(limit(Some("0"), 10).is_err());
        assert!(limit(Some("100000"), 10).is_err());
        assert_eq!(limit(None, 10).expect("default"), 10);
    }
}
