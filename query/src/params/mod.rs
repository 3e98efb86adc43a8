//! What a query may ask for, checked before any SQL is built: the shared pieces (the 400
//! error, limits, property keys, the project's zone); the date range, the bucket interval,
//! dimensions and filters each in their own module.

use jiff::tz::TimeZone;

pub(crate) mod dimension;
pub(crate) mod filter;
pub(crate) mod interval;
pub(crate) mod range;

/// Most values a top list or a breakdown may ask for.
pub(crate) const MAX_LIMIT: usize = 1_000;

/// A client mistake, answered 400 with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Invalid(pub(crate) String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

/// A project's zone by its IANA name; UTC when the name is unknown to the bundled database.
pub(crate) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// A property key: 1 to 200 characters of letters, digits, `$`, `_`, `-`, `.`, `:` or space.
pub(crate) fn property_key(key: &str) -> Result<&str, Invalid> {
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
pub(crate) fn limit(text: Option<&str>, default: usize) -> Result<usize, Invalid> {
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
