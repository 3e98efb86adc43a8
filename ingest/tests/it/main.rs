//! Ingest's end-to-end tests, one binary: each test starts what it needs with
//! `devstack::stack::TestStack` (nats-server and ingest in process, or the ingest binary on the
//! stack's NATS) and talks to it over the network.

mod common;
mod health;
mod imports;
mod memory;
mod persons;
mod places;
mod process;
mod quotas;
mod scripts;
mod visitors;
mod write_keys;
