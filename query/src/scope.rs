//! Whose events a query reads and over which range: the project, its zone, the range, the
//! filters and whether bots count, checked once per request, and the SQL condition they make.

use plumbing::projects::Projects;
use uuid::Uuid;

use crate::access::{Who, may_read};
use crate::error::Error;
use crate::params;
use crate::params::filter::{Filter, bind_all};
use crate::params::range::Range;

/// The rows of one project in a time range: binds project id, from and to (epoch seconds,
/// `to` exclusive), then from and to again. The day bounds let ClickHouse skip every other
/// partition and index range (the sorting key starts with project and day).
const SCOPE: &str = "project_id = toUUID(?) \
     AND date >= toDate(toDateTime(?), 'UTC') AND date <= toDate(toDateTime(?), 'UTC') \
     AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?)";

/// Leaves out the events ingest flagged as a bot's (by their user agent), unless asked for.
const NO_BOTS: &str = " AND is_bot = 0";

/// The project, its zone and the range a query covers, once the caller may see them.
#[derive(Debug)]
pub(crate) struct Scope {
    pub(crate) project: Uuid,
    pub(crate) zone_name: String,
    pub(crate) range: Range,
    /// From the `filter` parameter, on every query of the request.
    pub(crate) filters: Vec<Filter>,
    /// From the `include_bots` parameter: bots' events count too (by default they do not).
    pub(crate) include_bots: bool,
}

impl Scope {
    /// Checks the project (it must exist and the caller may read it: else the same 404), then
    /// the range in its zone, then the filters and
    /// `include_bots`, as the query string gave them.
    pub(crate) fn check(
        projects: &Projects,
        caller: &Who,
        project_id: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        filter: Option<&str>,
        include_bots: Option<&str>,
    ) -> Result<Self, Error> {
        let project =
            project_id.ok_or_else(|| Error::Invalid("project_id is required".to_owned()))?;
        let project = Uuid::parse_str(project)
            .map_err(|_| Error::Invalid("project_id is not a UUID".to_owned()))?;
        let zone_name = projects
            .timezone(project)
            .filter(|_| may_read(projects, caller, project))
            .ok_or_else(|| Error::NotFound("no such project".to_owned()))?;
        let zone = params::zone(&zone_name);
        let range = Range::parse(from, to, &zone)?;
        let filters = Filter::parse_all(filter, project)?;
        let include_bots = match include_bots {
            None | Some("" | "false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => {
                return Err(Error::Invalid(
                    "include_bots must be true or false".to_owned(),
                ));
            }
        };
        Ok(Self {
            project,
            zone_name,
            range,
            filters,
            include_bots,
        })
    }

    /// The WHERE condition of the project, the range, the filters and (unless bots are
    /// included) the people's events only.
    pub(crate) fn where_sql(&self) -> String {
        format!("{SCOPE}{}", self.filters_sql())
    }

    /// Binds what [`Self::where_sql`] holds, for `range`.
    pub(crate) fn bind(
        &self,
        query: clickhouse::query::Query,
        range: &Range,
    ) -> clickhouse::query::Query {
        let (from, to) = range.seconds();
        let query = query
            .bind(self.project.to_string())
            .bind(from)
            .bind(to)
            .bind(from)
            .bind(to);
        self.bind_filters(query)
    }

    /// The part of [`Self::where_sql`] after the project and range, each condition after an
    /// ` AND `: the people's events only (unless bots are included), and the filters.
    pub(crate) fn filters_sql(&self) -> String {
        let mut sql = String::new();
        if !self.include_bots {
            sql.push_str(NO_BOTS);
        }
        for filter in &self.filters {
            sql.push_str(" AND ");
            sql.push_str(&filter.sql());
        }
        sql
    }

    /// Binds what [`Self::filters_sql`] holds.
    pub(crate) fn bind_filters(
        &self,
        mut query: clickhouse::query::Query,
    ) -> clickhouse::query::Query {
        for filter in &self.filters {
            query = bind_all(query, &filter.binds());
        }
        query
    }

    /// What every answer over the range starts with.
    pub(crate) fn to_wire(&self) -> contract::query::Scope {
        contract::query::Scope {
            project_id: self.project,
            timezone: self.zone_name.clone(),
            range: self.range.to_wire(),
            include_bots: self.include_bots,
        }
    }
}
