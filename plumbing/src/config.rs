//! Reading typed configuration from the environment, failing fast with the variable's name.

use std::fmt;
use std::str::FromStr;

/// A configuration variable that is missing or does not parse.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    pub name: String,
    pub problem: String,
}

/// The value of `name`, parsed, or `default` when it is unset or empty.
pub fn var_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    Ok(var_opt(name)?.unwrap_or(default))
}

/// The value of `name`, parsed, or `None` when it is unset or empty.
pub fn var_opt<T>(name: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    match std::env::var(name) {
        Ok(raw) if !raw.trim().is_empty() => parse(name, raw.trim()).map(Some),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError {
            name: name.to_owned(),
            problem: "is not valid UTF-8".to_owned(),
        }),
    }
}

/// The value of `name`, parsed; an error naming it when it is unset.
pub fn var<T>(name: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    match std::env::var(name) {
        Ok(raw) if !raw.trim().is_empty() => parse(name, raw.trim()),
        _ => Err(ConfigError {
            name: name.to_owned(),
            problem: "is required but not set".to_owned(),
        }),
    }
}

fn parse<T>(name: &str, raw: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    raw.parse().map_err(|err| ConfigError {
        name: name.to_owned(),
        problem: format!("cannot parse {raw:?}: {err}"),
    })
}

/// A secret (password, key) that never shows in `Debug` or `Display` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must hand it to a client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Where a service listens and how it shuts down. Every service reads these.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Interface to bind (`LISTEN_HOST`, default `127.0.0.1`; `0.0.0.0` in containers).
    pub host: String,
    /// TCP port (`<SERVICE>_PORT`).
    pub port: u16,
    /// Time between readiness turning 503 and the listener closing (`SHUTDOWN_DELAY_MS`), so a
    /// load balancer stops sending new requests before they would be refused.
    pub shutdown_delay_ms: u64,
}

impl HttpConfig {
    /// Reads `LISTEN_HOST`, `port_var` and `SHUTDOWN_DELAY_MS`.
    pub fn from_env(port_var: &str, default_port: u16) -> Result<Self, ConfigError> {
        Ok(Self {
            host: var_or("LISTEN_HOST", "127.0.0.1".to_owned())?,
            port: var_or(port_var, default_port)?,
            shutdown_delay_ms: var_or("SHUTDOWN_DELAY_MS", 0)?,
        })
    }

    /// 127.0.0.1, any free port, no shutdown delay: for tests.
    pub fn ephemeral() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            shutdown_delay_ms: 0,
        }
    }

    /// `host:port`, for binding.
    pub fn bind_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// How to reach NATS (`NATS_URL`, default `nats://127.0.0.1:4222`). The server refuses
/// anonymous clients, so the URL names the service's own user and password
/// (`nats://ingest:<password>@nats:4222`); it never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct NatsConfig {
    pub url: String,
    /// Servers each stream and bucket the service creates is kept on (`NATS_STREAM_REPLICAS`,
    /// default 1): 3 on a three-node JetStream cluster. Every service must be given the same.
    pub replicas: usize,
}

impl fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &without_password(&self.url))
            .field("replicas", &self.replicas)
            .finish()
    }
}

/// `url` with its password (if any) replaced by `***`, for messages and logs.
pub(crate) fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password fails only on URLs that cannot have one, and this one has one.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<an unreadable URL>".to_owned(),
    }
}

impl NatsConfig {
    /// A server at `url` (which names the user), streams on one server.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            replicas: 1,
        }
    }

    /// `NATS_URL`, with the user and password of `NATS_USER` and `NATS_PASSWORD` when they are
    /// set (Kubernetes takes the password from a Secret, apart from the shared URL).
    pub fn from_env() -> Result<Self, ConfigError> {
        let url: String = var_or("NATS_URL", "nats://127.0.0.1:4222".to_owned())?;
        let user: Option<String> = var_opt("NATS_USER")?;
        let password: Option<String> = var_opt("NATS_PASSWORD")?;
        let replicas: usize = var_or("NATS_STREAM_REPLICAS", 1)?;
        Ok(Self {
            url: with_credentials(&url, user.as_deref(), password.as_deref())?,
            replicas: replicas.max(1),
        })
    }
}

/// `url` signed in as `user` with `password` (percent-encoded as a URL needs), or `url` as it
/// is when no user is given.
fn with_credentials(
    url: &str,
    user: Option<&str>,
    password: Option<&str>,
) -> Result<String, ConfigError> {
    let Some(user) = user else {
        return Ok(url.to_owned());
    };
    let invalid = |problem: &str| ConfigError {
        name: "NATS_URL".to_owned(),
        problem: problem.to_owned(),
    };
    let mut parsed = url::Url::parse(url).map_err(|_| invalid("is not a URL"))?;
    parsed
        .set_username(user)
        .map_err(|()| invalid("cannot carry a user"))?;
    parsed
        .set_password(password)
        .map_err(|()| invalid("cannot carry a password"))?;
    Ok(parsed.to_string())
}

/// How to reach ClickHouse over HTTP.
#[derive(Debug, Clone)]
pub struct ClickHouseConfig {
    /// `CLICKHOUSE_HOST`, default `127.0.0.1`.
    pub host: String,
    /// HTTP port, `CLICKHOUSE_PORT`, default 8123.
    pub port: u16,
    /// Database, `CLICKHOUSE_DB`, default `analytics`.
    pub database: String,
    /// `CLICKHOUSE_USER`, default `default`.
    pub user: String,
    /// `CLICKHOUSE_PASSWORD`, default empty.
    pub password: Secret,
    /// `CLICKHOUSE_CLUSTER`: the cluster (a name in the servers' `remote_servers`) whose shards
    /// hold the events, behind a `Distributed` table; unset or empty: one server.
    pub cluster: Option<String>,
}

impl ClickHouseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            host: var_or("CLICKHOUSE_HOST", "127.0.0.1".to_owned())?,
            port: var_or("CLICKHOUSE_PORT", 8123)?,
            database: var_or("CLICKHOUSE_DB", "analytics".to_owned())?,
            user: var_or("CLICKHOUSE_USER", "default".to_owned())?,
            password: var_or("CLICKHOUSE_PASSWORD", Secret::default())?,
            cluster: cluster_name(var_or("CLICKHOUSE_CLUSTER", String::new())?)?,
        })
    }

    /// The `default` user of a server on 127.0.0.1, without password (local stack, tests).
    pub fn local(port: u16, database: &str) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port,
            database: database.to_owned(),
            user: "default".to_owned(),
            password: Secret::default(),
            cluster: None,
        }
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

/// `CLICKHOUSE_CLUSTER` as read: `None` when empty, else a name that can stand in SQL unquoted
/// (`[A-Za-z0-9_]+`), since `ON CLUSTER` and `Distributed(...)` take no bound parameters.
fn cluster_name(raw: String) -> Result<Option<String>, ConfigError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(Some(raw))
    } else {
        Err(ConfigError {
            name: "CLICKHOUSE_CLUSTER".to_owned(),
            problem: format!("{raw:?} is not a plain name ([A-Za-z0-9_]+)"),
        })
    }
}

/// How to reach PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// `POSTGRES_HOST`, default `127.0.0.1`.
    pub host: String,
    /// `POSTGRES_PORT`, default 5432.
    pub port: u16,
    /// `POSTGRES_DB`, default `analytics_auth`.
    pub database: String,
    /// `POSTGRES_USER`, default `postgres`.
    pub user: String,
    /// `POSTGRES_PASSWORD`, default `postgres`.
    pub password: Secret,
}

impl PostgresConfig {
    /// The `postgres` superuser of a server on 127.0.0.1 (local stack, tests).
    pub fn local(port: u16, database: &str, password: &str) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port,
            database: database.to_owned(),
            user: "postgres".to_owned(),
            password: Secret::new(password),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            host: var_or("POSTGRES_HOST", "127.0.0.1".to_owned())?,
            port: var_or("POSTGRES_PORT", 5432)?,
            database: var_or("POSTGRES_DB", "analytics_auth".to_owned())?,
            user: var_or("POSTGRES_USER", "postgres".to_owned())?,
            password: var_or("POSTGRES_PASSWORD", Secret::new("postgres"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nats_user_and_password_sign_the_url_in() {
        assert_eq!(
            with_credentials("nats://nats:4222", Some("ingest"), Some("p@ss/word")).ok(),
            Some("nats://ingest:p%40ss%2Fword@nats:4222".to_owned())
        );
        assert_eq!(
            with_credentials("nats://nats:4222", None, None).ok(),
            Some("nats://nats:4222".to_owned())
        );
    }

    #[test]
    fn a_nats_password_never_prints() {
        let config = NatsConfig::new("nats://ingest:s3cret@nats:4222");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("nats://ingest:***@nats:4222"), "{shown}");
        assert_eq!(
            without_password("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err = parse::<u16>("SOME_PORT", "eighty").expect_err("must not parse");
        assert!(err.to_string().contains("SOME_PORT"), "{err}");
    }

    #[test]
    fn a_cluster_name_is_empty_or_plain() {
        assert_eq!(cluster_name(String::new()).ok(), Some(None));
        assert_eq!(
            cluster_name("events_2x1".to_owned()).ok(),
            Some(Some("events_2x1".to_owned()))
        );
        let err = cluster_name("a b'; DROP".to_owned()).expect_err("refused");
        assert!(err.to_string().contains("CLICKHOUSE_CLUSTER"), "{err}");
    }
}
