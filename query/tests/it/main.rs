//! Query's end-to-end tests, in one binary: the analytics API against real nats-server,
//! PostgreSQL and ClickHouse (with auth, ingest and the sink in front of it), one module per
//! endpoint group, plus the live feed's access, cluster mode and the operational endpoints.

mod answers;
mod api_keys;
mod bots;
mod catalog;
mod cluster;
mod cluster_persons;
mod csv;
mod current_clickhouse;
mod explorer;
mod health;
mod helpers;
mod journeys;
mod live;
mod live_access;
mod members;
mod month_turn;
mod overview;
mod overview_days;
mod persons;
mod persons_api;
mod persons_filters;
mod persons_identified;
mod places;
mod refusals;
mod retention_days;
mod sessions;
mod shared;
mod system;
mod top;
mod top_days;
mod trend_days;
mod trend_uniques;
mod trends;
