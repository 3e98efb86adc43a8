//! ClickHouse as the API reads it: one client with the query limits set, and the SQL log every
//! statement is appended to. Every template runs on ClickHouse 18.16 and on current ClickHouse;
//! values are bound (`?`), never spliced. Events are read without `FINAL`: the sink never
//! writes an event twice (docs/guarantees.md), and `FINAL` would cost five to ten times the
//! query itself.

use std::sync::{Arc, Mutex};

/// The event store and where its statements are logged.
#[derive(Clone)]
pub(crate) struct Store {
    client: clickhouse::Client,
    /// Where every statement run is appended, with its values bound (`QUERY_SQL_LOG`).
    sql_log: Option<Arc<Mutex<std::fs::File>>>,
    /// `CLICKHOUSE_DB`, the database `client` reads.
    database: String,
    /// `CLICKHOUSE_CLUSTER`: the events are read through the `Distributed` table `events` like
    /// a single table, except the parts, which are the shards' (`system::events_parts`).
    cluster: Option<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.database)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub(crate) fn new(
        client: clickhouse::Client,
        sql_log: Option<std::fs::File>,
        database: String,
        cluster: Option<String>,
    ) -> Self {
        Self {
            client,
            sql_log: sql_log.map(|file| Arc::new(Mutex::new(file))),
            database,
            cluster,
        }
    }

    /// A statement of `sql`, to bind and then run with [`Self::fetch_all`].
    pub(crate) fn query(&self, sql: &str) -> clickhouse::query::Query {
        self.client.query(sql)
    }

    /// The client, for the live feed's count, which is no analytics answer and is not logged.
    pub(crate) fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    pub(crate) fn database(&self) -> &str {
        &self.database
    }

    pub(crate) fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// Runs `query` and collects its rows, first appending its SQL to the SQL log if there
    /// is one. Every statement of the API runs through here.
    pub(crate) async fn fetch_all<T>(
        &self,
        query: clickhouse::query::Query,
    ) -> Result<Vec<T>, clickhouse::error::Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.log(&query);
        query.fetch_all().await
    }

    /// Appends the SQL of `query` to the SQL log, if there is one.
    fn log(&self, query: &clickhouse::query::Query) {
        if let Some(log) = &self.sql_log {
            use std::io::Write as _;
            let line = query.sql_display().to_string().replace('\n', " ");
            let mut file = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(err) = writeln!(file, "{line}") {
                tracing::warn!(error = %err, "cannot write the SQL log");
            }
        }
    }

    /// Runs `query` and hands its rows over one at a time as ClickHouse sends them (after the
    /// SQL log, as [`Self::fetch_all`]).
    pub(crate) fn fetch_cursor<T>(
        &self,
        query: clickhouse::query::Query,
    ) -> Result<clickhouse::query::RowCursor<T>, clickhouse::error::Error>
    where
        T: clickhouse::Row,
    {
        self.log(&query);
        query.fetch()
    }

    /// [`Self::fetch_all`] of a query that answers one row.
    pub(crate) async fn fetch_one<T>(
        &self,
        query: clickhouse::query::Query,
    ) -> Result<T, clickhouse::error::Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.fetch_all(query)
            .await?
            .into_iter()
            .next()
            .ok_or(clickhouse::error::Error::RowNotFound)
    }
}
