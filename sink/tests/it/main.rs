//! The sink's end-to-end tests against real nats-server, ClickHouse and the services around
//! it, one binary with a module per topic.

mod backlog;
mod clickhouse_outage;
mod columns;
mod common;
mod dlq;
mod erasure;
mod faults;
mod health;
mod late_retries;
mod native;
mod person_sessions;
mod persons;
mod persons_cluster;
mod pipeline;
mod project_retention;
mod replay;
mod scale_out;
mod sessions;
mod sessions_by_day;
