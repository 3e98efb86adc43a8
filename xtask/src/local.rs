//! The local stack that `up` runs and `demo` and `rebuild-projections` talk to: its ports (each
//! moved by an environment variable), its services, its data folder and its secrets.

use std::path::PathBuf;

use anyhow::Context as _;
use devstack::nats::NatsUser;

use crate::secrets::Secrets;

/// A port of the stack: what uses it, the variable that moves it, its default.
pub(crate) struct Port {
    pub(crate) what: &'static str,
    pub(crate) variable: &'static str,
    default: u16,
}

pub(crate) const PORTS: &[Port] = &[
    Port {
        what: "edge (public)",
        variable: "API_GATEWAY_PORT",
        default: 8000,
    },
    Port {
        what: "edge (metrics, internal)",
        variable: "EDGE_METRICS_PORT",
        default: 8005,
    },
    Port {
        what: "ingest",
        variable: "INGEST_PORT",
        default: 8001,
    },
    Port {
        what: "auth",
        variable: "AUTH_PORT",
        default: 8002,
    },
    Port {
        what: "query",
        variable: "QUERY_PORT",
        default: 8003,
    },
    Port {
        what: "sink",
        variable: "SINK_PORT",
        default: 8004,
    },
    Port {
        what: "NATS",
        variable: "NATS_PORT",
        default: 4222,
    },
    Port {
        what: "NATS monitoring",
        variable: "NATS_MONITOR_PORT",
        default: 8222,
    },
    Port {
        what: "PostgreSQL",
        variable: "POSTGRES_PORT",
        default: 5432,
    },
    Port {
        what: "ClickHouse HTTP",
        variable: "CLICKHOUSE_PORT",
        default: 8123,
    },
    Port {
        what: "ClickHouse native",
        variable: "CLICKHOUSE_TCP_PORT",
        default: 9000,
    },
    Port {
        what: "ClickHouse interserver",
        variable: "CLICKHOUSE_INTERSERVER_PORT",
        default: 9009,
    },
];

/// The port `variable` names, or its default.
pub(crate) fn port(variable: &str) -> anyhow::Result<u16> {
    let default = PORTS
        .iter()
        .find(|p| p.variable == variable)
        .map(|p| p.default)
        .context("unknown port variable")?;
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .with_context(|| format!("environment variable {variable}: {value:?} is not a port")),
        _ => Ok(default),
    }
}

/// `variable`, or `default` when it is unset or blank.
pub(crate) fn env_or(variable: &str, default: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The five services, in start order (edge last, since it checks the others).
pub(crate) const SERVICES: &[(&str, &str)] = &[
    ("ingest", "INGEST_PORT"),
    ("sink", "SINK_PORT"),
    ("auth", "AUTH_PORT"),
    ("query", "QUERY_PORT"),
    ("edge", "API_GATEWAY_PORT"),
];

/// Where the local stack keeps its data.
pub(crate) fn data_dir() -> PathBuf {
    devstack::workspace_root().join(".data")
}

/// The local stack's secrets (see [`Secrets`]).
pub(crate) fn secrets() -> anyhow::Result<Secrets> {
    Secrets::load(&data_dir(), |name| std::env::var(name).ok())
}

/// The first admin's address and password.
pub(crate) fn admin() -> anyhow::Result<(String, String)> {
    let secrets = secrets()?;
    Ok((
        secrets.get("ADMIN_EMAIL").to_owned(),
        secrets.get("ADMIN_PASSWORD").to_owned(),
    ))
}

/// The NATS user each service connects as; edge does not use NATS.
pub(crate) fn nats_user(service: &str) -> Option<NatsUser> {
    match service {
        "auth" => Some(NatsUser::Auth),
        "ingest" => Some(NatsUser::Ingest),
        "sink" => Some(NatsUser::Sink),
        "query" => Some(NatsUser::Query),
        _ => None,
    }
}
