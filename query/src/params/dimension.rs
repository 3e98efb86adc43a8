//! The columns and properties the API groups and filters by.

use super::{Invalid, invalid, property_key};

/// A column or property the API can group and filter by. Property keys are bound as values,
/// never spliced into SQL; they still have to look like property keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dimension {
    Column(&'static str),
    Property(String),
    /// `person:<key>`: the event's person's property (`crate::persons::sql`), which a statement
    /// reads once it joins the person's values.
    Person(String),
}

impl Dimension {
    pub(crate) fn parse(text: &str) -> Result<Self, Invalid> {
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
            "country" => "country",
            "region" => "region",
            "city" => "city",
            "channel" => "channel",
            "utm_source" => "utm_source",
            "utm_medium" => "utm_medium",
            "utm_campaign" => "utm_campaign",
            "utm_term" => "utm_term",
            "utm_content" => "utm_content",
            "entry_page" | "exit_page" => {
                return Err(invalid(format!(
                    "{text} is a dimension of sessions: top lists it, while filters and \
                     breakdowns, which are about events, do not take it"
                )));
            }
            other => {
                if let Some(key) = other.strip_prefix("person:") {
                    return Ok(Self::Person(property_key(key)?.to_owned()));
                }
                let key = other.strip_prefix("property:").ok_or_else(|| {
                    invalid(format!(
                        "dimension {other:?} is not one of event, path, host, url, referrer, \
                         browser, os, device, kind, lib, distinct_id, country, region, city, \
                         channel, utm_source, utm_medium, utm_campaign, utm_term, utm_content, \
                         property:<key> or person:<key>"
                    ))
                })?;
                return Ok(Self::Property(property_key(key)?.to_owned()));
            }
        };
        Ok(Self::Column(column))
    }

    /// The SQL expression; a property reads its value by a bound key (`?`).
    pub(crate) fn sql(&self) -> &'static str {
        match self {
            Self::Column(column) => column,
            Self::Property(_) => "prop_values[indexOf(prop_keys, ?)]",
            Self::Person(_) => "person_values[indexOf(person_keys, ?)]",
        }
    }

    /// The value bound into [`Self::sql`], if any.
    pub(crate) fn bind(&self) -> Option<&str> {
        match self {
            Self::Column(_) => None,
            Self::Property(key) | Self::Person(key) => Some(key),
        }
    }

    /// The person property key of a `person:<key>` dimension.
    pub(crate) fn person_key(&self) -> Option<&str> {
        match self {
            Self::Person(key) => Some(key),
            _ => None,
        }
    }
}

/// A dimension of sessions rather than of events: the page a session began or ended on (the
/// path of its first or last pageview), which top lists from the sessions table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionDimension {
    EntryPage,
    ExitPage,
}

impl SessionDimension {
    /// The dimension a name stands for, if it is one of sessions.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "entry_page" => Some(Self::EntryPage),
            "exit_page" => Some(Self::ExitPage),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::limit;

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
        assert_eq!(
            Dimension::parse("person:plan").expect("ok"),
            Dimension::Person("plan".to_owned())
        );
        assert!(Dimension::parse("property:x') OR 1=1 --").is_err());
        assert!(Dimension::parse("person:x') OR 1=1 --").is_err());
        assert!(Dimension::parse("password_hash").is_err());
        assert!(Dimension::parse("entry_page").is_err(), "not for events");
        assert_eq!(
            SessionDimension::parse("exit_page"),
            Some(SessionDimension::ExitPage)
        );
        assert_eq!(SessionDimension::parse("path"), None);
        for column in [
            "country",
            "region",
            "city",
            "channel",
            "utm_source",
            "utm_term",
        ] {
            assert_eq!(
                Dimension::parse(column).expect("ok"),
                Dimension::Column(column)
            );
        }
        assert!(limit(Some("0"), 10).is_err());
        assert!(limit(Some("100000"), 10).is_err());
        assert_eq!(limit(None, 10).expect("default"), 10);
    }
}
