//! Ingest's end-to-end tests, one binary: each module starts the real servers it needs
//! (nats-server, ingest in process or as its binary) and talks to them over the network.

mod common;
mod health;
mod memory;
mod process;
mod quotas;
mod scripts;
mod visitors;
mod write_keys;
