//! The catalogue: the event names and property keys seen in a range, most frequent first, with
//! counts, for the UI's pickers.

use clickhouse::Row;
use contract::query::{CatalogEvent, CatalogProperty, CatalogResponse};
use serde::Deserialize;

use crate::error::Error;
use crate::scope::Scope;
use crate::store::Store;

/// Most entries of each catalogue list.
const CATALOG_LIMIT: u64 = 500;

#[derive(Debug, Row, Deserialize)]
struct Seen {
    value: String,
    count: u64,
}

/// The event names and property keys of the scope.
pub(crate) async fn catalog(store: &Store, scope: &Scope) -> Result<CatalogResponse, Error> {
    let events = seen(store, scope, "event").await?;
    let properties = seen(store, scope, "arrayJoin(prop_keys)").await?;
    Ok(CatalogResponse {
        scope: scope.to_wire(),
        events: events
            .into_iter()
            .map(|row| CatalogEvent {
                event: row.value,
                count: row.count,
            })
            .collect(),
        properties: properties
            .into_iter()
            .map(|row| CatalogProperty {
                key: row.value,
                count: row.count,
            })
            .collect(),
    })
}

/// The most frequent values of `expression` in the scope, with their counts.
async fn seen(store: &Store, scope: &Scope, expression: &str) -> Result<Vec<Seen>, Error> {
    let text = format!(
        "SELECT {expression} AS value, toUInt64(count()) AS count FROM events \
         WHERE {} GROUP BY value ORDER BY count DESC, value LIMIT ?",
        scope.where_sql()
    );
    Ok(store
        .fetch_all(
            scope
                .bind(store.query(&text), &scope.range)
                .bind(CATALOG_LIMIT),
        )
        .await?)
}
