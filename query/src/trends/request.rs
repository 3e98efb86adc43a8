//! A trends request once checked: what is measured per bucket, of which events, broken down
//! how, and the SQL pieces each of those adds.

use uuid::Uuid;

use crate::error::Error;
use crate::params;
use crate::params::dimension::Dimension;
use crate::params::interval::Interval;
use crate::persons::sql::{Fragment, PERSON, join};

/// What is measured per bucket.
#[derive(Debug, Clone)]
pub(crate) enum Measure {
    Count,
    Uniques,
    /// Sum of a numeric property (text that is not a number counts as 0).
    Sum(String),
    /// Average of a numeric property over the events that have it.
    Average(String),
}

impl Measure {
    pub(crate) fn parse(measure: Option<&str>, property: Option<&str>) -> Result<Self, Error> {
        let key = || {
            property
                .filter(|p| !p.is_empty())
                .ok_or_else(|| Error::Invalid("sum and avg need `property`".to_owned()))
                .and_then(|p| Ok(params::property_key(p)?.to_owned()))
        };
        match measure.unwrap_or("count") {
            "" | "count" => Ok(Self::Count),
            "uniques" => Ok(Self::Uniques),
            "sum" => Ok(Self::Sum(key()?)),
            "avg" => Ok(Self::Average(key()?)),
            other => Err(Error::Invalid(format!(
                "measure {other:?} is not count, uniques, sum or avg"
            ))),
        }
    }

    /// The aggregate, as Float64; `?` are the property key. Uniques are persons, which
    /// [`Request::persons`] joins.
    pub(crate) fn sql(&self) -> String {
        match self {
            Self::Count => "toFloat64(count())".to_owned(),
            Self::Uniques => format!("toFloat64(uniqCombined({PERSON}))"),
            Self::Sum(_) => "sum(toFloat64OrZero(prop_values[indexOf(prop_keys, ?)]))".to_owned(),
            Self::Average(_) => {
                "ifNull(avgIf(toFloat64OrZero(prop_values[indexOf(prop_keys, ?)]), has(prop_keys, ?)), 0)"
                    .to_owned()
            }
        }
    }

    pub(crate) fn bind(&self, mut query: clickhouse::query::Query) -> clickhouse::query::Query {
        match self {
            Self::Count | Self::Uniques => {}
            Self::Sum(key) => query = query.bind(key.as_str()),
            Self::Average(key) => query = query.bind(key.as_str()).bind(key.as_str()),
        }
        query
    }

    /// Whether the values are counts, answered as integers.
    pub(crate) fn whole(&self) -> bool {
        matches!(self, Self::Count | Self::Uniques)
    }
}

/// One trends request, checked.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) interval: Interval,
    /// The interval as the caller named it, echoed in the answer.
    pub(crate) interval_name: String,
    pub(crate) measure: Measure,
    /// Only events of this name.
    pub(crate) event: Option<String>,
    pub(crate) breakdown: Option<Dimension>,
    /// How many breakdown values get a series of their own.
    pub(crate) limit: usize,
    /// Also the same series over the previous period.
    pub(crate) compare: bool,
}

impl Request {
    /// What follows `FROM events` so that the measure counts persons or the breakdown reads a
    /// person's property (with its binds); nothing when neither does, so that a count pays
    /// nothing for persons.
    pub(crate) fn persons(&self, project: Uuid) -> Fragment {
        let key = self.breakdown.as_ref().and_then(Dimension::person_key);
        if key.is_some() || matches!(self.measure, Measure::Uniques) {
            join(project, key)
        } else {
            Fragment::default()
        }
    }

    /// The condition on the event name, if the request names one (`?` is the name).
    pub(crate) fn event_filter(&self) -> &'static str {
        if self.event.is_some() {
            " AND event = ?"
        } else {
            ""
        }
    }
}
