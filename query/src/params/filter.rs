//! The `filter` parameter: conditions on dimensions and properties, as SQL with bound values.

use contract::query::FilterSpec;

use super::dimension::Dimension;
use super::{Invalid, invalid};

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
}

impl Filter {
    /// The filters of a `filter` parameter (absent or empty: none).
    pub(crate) fn parse_all(text: Option<&str>) -> Result<Vec<Self>, Invalid> {
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

    pub(crate) fn from_spec(spec: FilterSpec) -> Result<Self, Invalid> {
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
    pub(crate) fn sql(&self) -> String {
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
    pub(crate) fn binds(&self) -> Vec<Bound> {
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
}
