//! The `filter` parameter: conditions on dimensions and properties, as SQL with bound values.

use contract::query::FilterSpec;
use uuid::Uuid;

use super::dimension::Dimension;
use super::{Invalid, invalid};
use crate::persons::sql::{Fragment, person_condition};

/// A value bound into SQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    Text(String),
    Number(f64),
}

/// Binds `binds` to the next placeholders of `query`, in order.
pub(crate) fn bind_all(
    mut query: clickhouse::query::Query,
    binds: &[Bound],
) -> clickhouse::query::Query {
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
pub(crate) const MAX_FILTERS: usize = 20;

/// One condition on a dimension or property, from the `filter` parameter: a JSON array of
/// `{"key": "<dimension>", "op": "eq|neq|contains|set|not_set|gt|gte|lt|lte", "value": …}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    dimension: Dimension,
    op: Op,
    value: Option<Bound>,
    /// The project whose persons a `person:<key>` condition reads.
    project: Uuid,
}

impl Filter {
    /// The filters of a `filter` parameter (absent or empty: none) on `project`'s events.
    pub(crate) fn parse_all(text: Option<&str>, project: Uuid) -> Result<Vec<Self>, Invalid> {
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
        specs
            .into_iter()
            .map(|spec| Self::from_spec(spec, project))
            .collect()
    }

    pub(crate) fn from_spec(spec: FilterSpec, project: Uuid) -> Result<Self, Invalid> {
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
            project,
        })
    }

    /// The condition, with `?` where [`Self::binds`] go, in order. A `person:<key>` condition
    /// is on the event's person: a membership test of its id among the ids whose person meets
    /// it (`crate::persons::sql`).
    pub(crate) fn sql(&self) -> String {
        self.on_person()
            .map_or_else(|| self.value_sql(), |condition| condition.sql)
    }

    /// Whether the condition is on the event's person (a `person:<key>` dimension), whose
    /// properties change apart from the event.
    pub(crate) fn on_person_property(&self) -> bool {
        self.dimension.person_key().is_some()
    }

    /// For a `person:<key>` dimension: the membership test, binding its own values before
    /// those of [`Self::value_sql`], which it wraps.
    fn on_person(&self) -> Option<Fragment> {
        let key = self.dimension.person_key()?;
        Some(person_condition(
            self.project,
            key,
            &self.value_sql(),
            self.unset_matches(),
        ))
    }

    /// The condition on the dimension's value.
    fn value_sql(&self) -> String {
        let expr = self.dimension.sql();
        match (self.op, &self.dimension) {
            (Op::IsSet, Dimension::Property(_)) => "has(prop_keys, ?)".to_owned(),
            (Op::IsNotSet, Dimension::Property(_)) => "NOT has(prop_keys, ?)".to_owned(),
            (Op::IsSet, Dimension::Person(_)) => "has(person_keys, ?)".to_owned(),
            (Op::IsNotSet, Dimension::Person(_)) => "NOT has(person_keys, ?)".to_owned(),
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

    /// Whether a person without the key (nor any links or properties) meets the condition: as
    /// the value of a missing key, the empty text, would.
    fn unset_matches(&self) -> bool {
        match (self.op, &self.value) {
            (Op::IsNotSet, _) => true,
            (Op::Equals | Op::Contains, Some(Bound::Text(text))) => text.is_empty(),
            (Op::NotEquals, Some(Bound::Text(text))) => !text.is_empty(),
            _ => false,
        }
    }

    /// The values bound into [`Self::sql`], in order.
    pub(crate) fn binds(&self) -> Vec<Bound> {
        let mut binds: Vec<Bound> = self
            .on_person()
            .map(|condition| condition.binds.into_iter().map(Bound::Text).collect())
            .unwrap_or_default();
        binds.extend(self.value_binds());
        binds
    }

    /// The values bound into [`Self::value_sql`], in order.
    fn value_binds(&self) -> Vec<Bound> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_bind_every_value_and_refuse_what_they_cannot_use() {
        let project = Uuid::nil();
        let filters = Filter::parse_all(
            Some(
                r#"[{"key":"property:plan","op":"eq","value":"pro"},
                {"key":"browser","op":"contains","value":"chrom"},
                {"key":"property:price","op":"gte","value":10},
                {"key":"property:coupon","op":"not_set"},
                {"key":"person:plan","op":"eq","value":"pro"},
                {"key":"person:plan","op":"neq","value":"pro"},
                {"key":"person:age","op":"gt","value":30},
                {"key":"person:email","op":"not_set"}]"#,
            ),
            project,
        )
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
        // A person's condition is on the ids of the persons that meet it, or, when a person
        // without the key meets it, on the ids of those that do not.
        assert!(sql[4].starts_with("user_hash GLOBAL IN (SELECT user_hash FROM ("));
        assert!(sql[4].ends_with(" WHERE person_values[indexOf(person_keys, ?)] = ?)"));
        assert!(sql[5].starts_with("user_hash GLOBAL NOT IN ("));
        assert!(sql[5].ends_with(" WHERE NOT (person_values[indexOf(person_keys, ?)] != ?))"));
        assert!(sql[6].starts_with("user_hash GLOBAL IN ("));
        assert!(sql[7].ends_with(" WHERE NOT (NOT has(person_keys, ?)))"));
        assert_eq!(filters[4].binds()[0], Bound::Text(project.to_string()));
        let parse = |text: &str| Filter::parse_all(Some(text), project);
        assert!(parse(r#"[{"key":"x') OR 1","op":"eq","value":"a"}]"#).is_err());
        assert!(parse(r#"[{"key":"person:x') OR 1","op":"eq","value":"a"}]"#).is_err());
        assert!(parse(r#"[{"key":"path","op":"like","value":"a"}]"#).is_err());
        assert!(parse(r#"[{"key":"path","op":"gt","value":"many"}]"#).is_err());
        assert!(parse("plan=pro").is_err());
        assert_eq!(Filter::parse_all(None, project).expect("none"), []);
    }
}
